"""Citizens' appeals (Law No. 300-З) beyond one case: repeated appeals, termination of
correspondence, public answers to identical appeals, and the wording they compare.

A package of its own beside `engine.appeals` (an appeal's registration data and notice values,
which sits below the store in the layers): these read and write the store's tables, so they sit
with the other record keepers (`engine.accounts`, `engine.saved_filters`) above it.
"""
