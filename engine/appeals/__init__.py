"""Citizens' appeals (Law No. 300-З) beyond one case: repeated appeals, termination of
correspondence, public answers to identical appeals, and the wording they compare."""
