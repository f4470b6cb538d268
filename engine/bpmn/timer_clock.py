"""The injected clock SpiffWorkflow's timers read.

Timers and time. SpiffWorkflow 3.2 reads "now" in exactly one module,
`SpiffWorkflow.bpmn.specs.event_definitions.timer`, always as `datetime.now(timezone.utc)`: when a
timer task is first refreshed it evaluates its expression (through the script engine, so `"P3D"`
needs quotes), stores the due time as an ISO UTC string in `task.internal_data['event_value']`, and
on every later refresh compares that with now and sets `event_fired`. Timers never fire by
themselves: `refresh_timers()` (also run at the end of every `do_engine_steps()`) re-checks them.
Nothing in SpiffWorkflow takes a clock, so `install()` replaces that module's `datetime` name with a
subclass whose `now()` reads the clock set by `clock(...)` (a context variable: per thread and per
asyncio task) and falls back to the real time outside it. Run every engine step of a case under
`with clock(now):` so due times are computed from the injected time, and fire due timers with
`fire_timers(workflow, now)`. The alternative, rewriting `event_value` to a past time, also works
(the test shows it) but computes due times from the wall clock. `timer_due_times(workflow)` lists
pending due times for the scheduler's index.

An event-based gateway keeps its branches' events itself: SpiffWorkflow moves each branch's event
definition onto the gateway's `MultipleEventDefinition` (the branch events get none), and a timer
branch's due time is stored on the waiting *gateway* task. `timer_definitions` looks inside such a
definition, so the gateway's timer is indexed and fired like any other.
"""
from __future__ import annotations

import contextlib
import contextvars
import weakref
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.util.task import TaskState

# ------------------------------------------------------------------------------------------------
# Time: the injected clock SpiffWorkflow's timers read

_CLOCK: contextvars.ContextVar[Callable[[], datetime] | None] = contextvars.ContextVar(
    "okno_bpmn_clock", default=None)


class _ClockedDatetime(datetime):
    """`datetime` whose `now()` is the injected clock, when one is set (see the module docstring)."""

    @classmethod
    def now(cls, tz=None):
        source = _CLOCK.get()
        if source is None:
            return super().now(tz)
        value = source()
        if value.tzinfo is None:
            raise ValueError("the injected clock must return an aware datetime (UTC)")
        value = cls.combine(value.date(), value.time(), value.tzinfo)
        return value.astimezone(tz) if tz is not None else value.astimezone().replace(tzinfo=None)


def install() -> None:
    """Make SpiffWorkflow's timers read "now" through `_ClockedDatetime` (idempotent).

    SpiffWorkflow's timer module reads the time only through its `datetime` name; outside a
    `clock(...)` block the replacement gives the real time, so installing changes nothing else.
    `clock()` installs it: nothing is patched merely by importing okno."""
    if _spiff_timer.datetime is not _ClockedDatetime:
        _spiff_timer.datetime = _ClockedDatetime


@contextlib.contextmanager
def clock(now: datetime | Callable[[], datetime]) -> Iterator[None]:
    """Within the block, SpiffWorkflow timers take `now` (an aware datetime, or a callable) as now."""
    source = now if callable(now) else (lambda: now)
    if not callable(now) and now.tzinfo is None:
        raise ValueError("clock() needs an aware datetime, e.g. datetime(..., tzinfo=timezone.utc)")
    install()
    token = _CLOCK.set(source)
    try:
        yield
    finally:
        _CLOCK.reset(token)


def fire_timers(workflow: BpmnWorkflow, now: datetime) -> None:
    """Fire every timer of `workflow` that is due at `now` and run the engine steps that follow."""
    with clock(now):
        workflow.refresh_timers()
        workflow.do_engine_steps()


def timer_definitions(definition: object) -> list[_spiff_timer.TimerEventDefinition]:
    """The timers an event definition waits for: itself, or the timers among a multiple event's
    definitions (an event-based gateway's branches, a multiple catch event)."""
    if isinstance(definition, _spiff_timer.TimerEventDefinition):
        return [definition]
    if isinstance(definition, MultipleEventDefinition):
        return [d for d in definition.event_definitions
                if isinstance(d, _spiff_timer.TimerEventDefinition)]
    return []


_HAS_TIMERS: weakref.WeakKeyDictionary[object, bool] = weakref.WeakKeyDictionary()


def has_timers(parsed: object, specs: Iterable[object]) -> bool:
    """Whether any task spec of `specs` (the processes of the parsed version `parsed`) waits for a
    timer, an event-based gateway's timer branch included; computed once per parsed version."""
    known = _HAS_TIMERS.get(parsed)
    if known is None:
        known = any(timer_definitions(getattr(ts, "event_definition", None))
                    for sp in specs for ts in getattr(sp, "task_specs", {}).values())
        _HAS_TIMERS[parsed] = known
    return known


def timer_due_times(workflow: BpmnWorkflow) -> list[tuple[str, datetime]]:
    """(timer task id, due time in UTC) of every waiting timer, earliest first, for the scheduler.

    Keyed by the waiting task's id: one timer of the diagram may wait in several copies (e.g. in
    parallel calls of one process). An event-based gateway's timer is keyed by the gateway task,
    which holds its due time."""
    due: list[tuple[str, datetime]] = []
    for task in workflow.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        value = task.internal_data.get("event_value")
        if timer_definitions(definition) and value is not None:
            if isinstance(value, dict):  # a cycle timer: the next occurrence
                value = value.get("next")
            if not isinstance(value, str):
                continue
            # A due time, or a timeDate text as written (naive = local time, as SpiffWorkflow reads it).
            when = _spiff_timer.TimerEventDefinition.parse_time_or_duration(value)
            if isinstance(when, datetime):
                due.append((str(task.id), datetime.fromisoformat(when.isoformat())))
    return sorted(due, key=lambda item: (item[1], item[0]))

