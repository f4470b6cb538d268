"""A procedure's process: compiled from its steps to BPMN 2.0 with a diagram (`compile`,
`layout`), and parsed once per procedure version into the spec every case of it shares (`specs`).
Below it, `engine.bpmn` knows BPMN documents and SpiffWorkflow, not procedures."""
