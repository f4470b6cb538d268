"""BPMN documents and SpiffWorkflow, knowing nothing of procedures: namespaces and the error
(`xml`), checking and parsing a drawn file (`check`), and the injected clock SpiffWorkflow's
timers read (`timer_clock`). Compiling a procedure to BPMN is `engine.process`, above it."""
