"""Citizens' appeals (Law No. 300-З) and the book of remarks: what a definition cannot say.

The rules of an appeal are the definition's (`type: appeal | remarks`, docs/appeals.md) and run in
`engine.runtime.case.Case` like any case. This package holds only what is particular to them:

- `registration`: the registration data of an appeal (kind, topic, text, anonymity, where its
  notices go), checked against the definition, as the columns of the new case;
- `notice_values`: the values a notice text's placeholders are filled from.
"""
