"""Multi-instance tasks whose collection is missing: a clear error instead of a raw TypeError.

A multi-instance task drawn with `loopDataInputRef` makes one instance per item of a case variable.
SpiffWorkflow reads that variable when the flow reaches the task: absent (None) it fails with
`TypeError: 'NoneType' object is not iterable` (parallel) or a generic data error (sequential),
and text is split into its characters, one instance each. `MultiInstanceGuard` checks the value
first: it must be a list (or a mapping: one instance per key); otherwise `MissingCollection`,
which names the variable and the task, and which the runtime turns into a refused command
(`InvalidInput` on `data.<variable>`, nothing stored).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowDataException
from SpiffWorkflow.spiff.specs.defaults import (
    ParallelMultiInstanceTask,
    SequentialMultiInstanceTask,
)

_KINDS = {str: "текст", int: "число", float: "число", bool: "логическое значение"}


class MissingCollection(WorkflowDataException):
    """The collection a multi-instance task runs over is absent or not a list."""

    def __init__(self, task: Any, variable: str, value: Any) -> None:
        spec = task.task_spec
        inner = task.workflow.spec.task_specs.get(getattr(spec, "task_spec", ""), spec)
        title = inner.bpmn_name or spec.bpmn_name or spec.name
        if value is None:
            what = ("такого списка нет в данных дела" if variable not in task.data
                    else "значение не задано")
        else:
            what = f"получено значение типа «{_KINDS.get(type(value), type(value).__name__)}», а не список"
        self.variable, self.task_title = variable, title
        self.russian = (f"Шаг «{title}» выполняется для каждого элемента списка «{variable}»: "
                        f"{what}")
        super().__init__(f"multi-instance task {task.task_spec.name!r} needs a list in "
                         f"{variable!r}; {'absent' if value is None else type(value).__name__}",
                         task)


class MultiInstanceGuard:
    """Mixed into SpiffWorkflow's multi-instance specs: check the collection before use."""

    def _update_hook(self, my_task: Any) -> Any:
        data_input = getattr(self, "data_input", None)
        if data_input is not None:
            my_task._inherit_data()  # what SpiffWorkflow's hook does first: the case data so far
            value = data_input.get(my_task)
            if isinstance(value, str) or not isinstance(value, (list, tuple, Mapping)):
                raise MissingCollection(my_task, data_input.bpmn_id, value)
        return super()._update_hook(my_task)  # type: ignore[misc]


class GuardedParallelMultiInstance(MultiInstanceGuard, ParallelMultiInstanceTask):
    pass


class GuardedSequentialMultiInstance(MultiInstanceGuard, SequentialMultiInstanceTask):
    pass


def guarded(parser_class: type) -> type:
    """`parser_class` (a SpiffWorkflow task parser) building the guarded multi-instance specs."""
    if not hasattr(parser_class, "PARALLEL_MI_CLASS"):
        return parser_class
    return type(parser_class.__name__, (parser_class,), {
        "PARALLEL_MI_CLASS": GuardedParallelMultiInstance,
        "SEQUENTIAL_MI_CLASS": GuardedSequentialMultiInstance})
