"""What every BPMN document of okno shares: namespaces, reserved ids, the error.
"""
from __future__ import annotations

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
TARGET_NAMESPACE = "https://okno.example/bpmn"
RESERVED_IDS = frozenset({"start", "end_approved", "end_refused"})


class BpmnError(ValueError):
    """A BPMN document that cannot be run safely, or a procedure that cannot be compiled."""


# ------------------------------------------------------------------------------------------------
# Compiling a step definition


def process_id(number: str) -> str:
    """The BPMN process id of a compiled procedure: '6.1.1' -> 'procedure_6_1_1'."""
    return "procedure_" + number.replace(".", "_")


