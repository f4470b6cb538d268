"""What every BPMN document of okno shares: namespaces, reserved ids, the error.
"""
from __future__ import annotations

from dataclasses import dataclass

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


# Bounds checked before SpiffWorkflow's parser, whose time grows faster than the file: a drawn
# process of a few dozen tasks is some 50 KB and a few hundred elements.
MAX_BPMN_BYTES = 1024 * 1024
MAX_BPMN_ELEMENTS = 20_000


@dataclass(frozen=True, order=True)
class BpmnProblem:
    """One thing to change in a drawn BPMN file: where (line, column, element id) and what.

    `file` is None for the file checked, else the name of another catalog BPMN file (a process
    that a call activity reaches there). `message` says what to change in modeler terms."""

    line: int
    column: int
    message: str
    element: str | None = None
    file: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}: " if self.file else ""
        return f"{where}line {self.line}: {self.message}"


class BpmnError(ValueError):
    """A BPMN document that cannot be run safely, or a procedure that cannot be compiled.

    `problems` lists every problem found (one, for an error raised with a plain message)."""

    def __init__(self, message: str = "", problems: list[BpmnProblem] | None = None) -> None:
        self.problems = list(problems) if problems else [BpmnProblem(1, 1, message)]
        super().__init__(message if not problems else "\n".join(str(p) for p in self.problems))


# ------------------------------------------------------------------------------------------------
# Compiling a step definition


def process_id(number: str) -> str:
    """The BPMN process id of a compiled procedure: '6.1.1' -> 'procedure_6_1_1'."""
    return "procedure_" + number.replace(".", "_")


