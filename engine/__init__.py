"""okno engine: procedure definitions, case runtime, legal terms, audit. Imports nothing from `api`."""
