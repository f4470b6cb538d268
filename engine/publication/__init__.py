"""Publishing a changed catalog without a restart (okno issue 11).

So far: `validate_files`, which checks uploaded definitions and the BPMN files they name
with the same validator `okno validate` uses, and stores nothing."""
