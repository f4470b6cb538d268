"""BPMN 2.0 for procedures: compile step definitions (`compile`, `layout`), check drawn files
(`check`), parse each version once (`specs`), and give SpiffWorkflow's timers an injected clock
(`timer_clock`)."""
