"""Moving a running case to another version of its procedure, after checking that it can move.

`check_and_move(case, target)` decides, on the case's own workflow, whether the case can run on
`target` (a `Procedure` of the same number) and, if it can, moves it: the workflow's task specs
are realigned with SpiffWorkflow's own diff (`SpiffWorkflow.bpmn.util.diff`: the spec diff by
task spec id, `migrate_workflow`), the ready tasks are reset and predicted again on the new
spec, and the case records what its write changes (its version, the open task rows' titles,
kinds and roles, a shorter due date). It never touches the database: the unit of work writes the
move in one transaction with one audit event (action `migrate`), or nothing when the command is
a dry run or the case is blocked. A case is blocked, with a reason for clerks (Russian) and a
machine code, when:

- it is not running (`not_running`); it is on the target already (`same_version`);
- an open task's step is not in the new version (`task_removed`) or is of another kind of task
  (`task_type_changed`); the new step has a required field the old one lacked
  (`field_required_added`) or a field changed its type (`field_type_changed`);
- the data of a completed step that still exists does not satisfy its new form (`data_invalid`);
- its term gets longer, or counts from another day (`term_longer`);
- a task left in its workflow (a waiting timer, a subprocess) has no place in the new process
  (`state_incompatible`).

The due date is kept unless the new term is shorter: then it is the new term's due date (after
the days the case was suspended), if that is earlier than the one in force.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import TaskState

from engine.bpmn.timer_clock import clock
from engine.definition.procedure import Field, Procedure
from engine.errors import InvalidForm, InvalidInput
from engine.expressions import ExpressionError
from engine.process.specs import load_spec
from engine.runtime.case import Case, ready_tasks
from engine.runtime.forms import clean_form
from engine.statuses import ACTIVE
from engine.terms import due_date, extend_due, parse_term

ACTION = "migrate"
MAX_LISTED = 50  # task spec ids listed per kind in the event's diff summary
# Converts task specs (SpiffWorkflow's spiff flavour, as okno parses them) for SpecDiff's comparison.
_REGISTRY = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
_TASK_COLUMNS = ("kind", "title", "role", "acts_as")  # what a moved open task row may change


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a case cannot move: a machine code and a sentence for clerks."""

    code: str
    text: str


@dataclass
class Verdict:
    """What the check found for one case, and whether it was moved."""

    case_id: str
    reg_number: str | None
    status: str
    from_version: str
    to_version: str
    reasons: list[Reason] = field(default_factory=list)
    diff: dict[str, list[str]] = field(default_factory=dict)
    moved: bool = False

    @property
    def movable(self) -> bool:
        return not self.reasons

    def as_dict(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "reg_number": self.reg_number, "status": self.status,
                "from": self.from_version, "to": self.to_version, "movable": self.movable,
                "moved": self.moved, "reasons": [{"code": r.code, "text": r.text} for r in self.reasons],
                "diff": self.diff}


def check_and_move(case: Case, target: Procedure) -> Verdict:
    """Check `case` against `target` and, if nothing blocks it, move it (recorded on `case`)."""
    row = case.row
    verdict = Verdict(case.id, row.get("reg_number"), row["status"], row["version"], target.version)
    if row["status"] not in ACTIVE:
        verdict.reasons.append(Reason("not_running", f"дело не ведётся (статус «{row['status']}»): "
                                                     "переносить нечего"))
        return verdict
    if target.number != case.procedure.number:
        raise InvalidInput(f"version {target.version[:12]} is of procedure {target.number}, "
                           f"not {case.procedure.number}", field="to")
    if row["version"] == target.version:
        verdict.reasons.append(Reason("same_version", "дело уже ведётся по этой версии"))
        return verdict
    verdict.reasons.extend(_term_reasons(case.procedure, target))
    verdict.reasons.extend(_option_reasons(case, target))
    parsed = load_spec(target)
    top, subs = diff_workflow(_REGISTRY, case.workflow, parsed.spec, parsed.subprocess_specs)
    verdict.diff = _summary(top, subs)
    verdict.reasons.extend(_open_task_reasons(case, target, top, subs))
    verdict.reasons.extend(_completed_data_reasons(case, target))
    gone = sorted(case.workflow.subprocesses[sp_id].spec.name for sp_id, d in subs.items() if d is None)
    if gone:
        verdict.reasons.append(Reason("state_incompatible", "подпроцессов дела нет в новой версии: "
                                      f"{', '.join(gone[:MAX_LISTED])}"))
    if verdict.reasons:
        return verdict
    failed = _move(case, target, top, subs, parsed)
    leftover = _foreign_tasks(case, parsed)
    if failed is not None or leftover:
        verdict.reasons.append(Reason("state_incompatible", failed or "в процессе дела остаются "
                                      f"элементы, которых нет в новой версии: {', '.join(leftover)}"))
        return verdict
    verdict.moved = True
    case.action, case.step = ACTION, None
    case.data = {"from": row["version"], "to": target.version, "diff": verdict.diff}
    return verdict


# ------------------------------------------------------------------------------------- checks

def _term_reasons(old: Procedure, new: Procedure) -> list[Reason]:
    reasons = []
    pairs = (("max", old.term.max, new.term.max),
             ("when_documents_requested", old.term.when_documents_requested or old.term.max,
              new.term.when_documents_requested or new.term.max))
    for _name, before, after in pairs:
        if parse_term(after).sort_key > parse_term(before).sort_key:
            reasons.append(Reason("term_longer", f"срок в новой версии длиннее: «{after}» вместо "
                                                 f"«{before}»"))
            break
    if old.term.counted_from != new.term.counted_from:
        reasons.append(Reason("term_longer", "в новой версии срок исчисляется с другого дня "
                                             f"({new.term.counted_from} вместо {old.term.counted_from})"))
    return reasons


def _option_reasons(case: Case, new: Procedure) -> list[Reason]:
    """A case's service option must be in the new version, with a term no longer."""
    option_id = case.row.get("option")
    if option_id is None:
        return []
    if option_id not in {o.id for o in new.options}:
        return [Reason("option_removed", f"порядка осуществления «{option_id}», выбранного "
                                         "заявителем, в новой версии нет")]
    before, after = case.procedure.option(option_id).term, new.option(option_id).term
    if parse_term(after).sort_key > parse_term(before).sort_key:
        return [Reason("term_longer", f"срок выбранного порядка в новой версии длиннее: «{after}» "
                                      f"вместо «{before}»")]
    return []


def _open_task_reasons(case: Case, new: Procedure, top, subs) -> list[Reason]:
    reasons = []
    alignment = {task: spec for d in (top, *subs.values()) if d is not None
                 for task, spec in d.alignment.items()}
    for task in ready_tasks(case.workflow).values():
        spec = task.task_spec
        name, title = spec.name, spec.bpmn_name or spec.name
        aligned = alignment.get(task)
        if aligned is None or aligned.name != name:  # SpecDiff may pair by structure: not the same step
            reasons.append(Reason("task_removed", f"открытого шага «{title}» ({name}) нет в "
                                                  "новой версии"))
            continue
        if type(aligned) is not type(spec):
            reasons.append(Reason("task_type_changed", f"шаг «{title}» ({name}) в новой версии "
                                                       "другого типа"))
        old_fields = {f.id: f for f in _fields(case.procedure, name)}
        for fld in _fields(new, name):
            before = old_fields.get(fld.id)
            if before is None and fld.required:
                reasons.append(Reason("field_required_added", f"в открытом шаге «{title}» новое "
                                      f"обязательное поле «{fld.title}» ({fld.id})"))
            elif before is not None and before.type != fld.type:
                reasons.append(Reason("field_type_changed", f"в открытом шаге «{title}» поле "
                                      f"«{fld.title}» ({fld.id}) сменило тип: {before.type} → {fld.type}"))
    return reasons


def _completed_data_reasons(case: Case, new: Procedure) -> list[Reason]:
    """Each completed step that still exists: the values it recorded against its new form."""
    reasons: list[Reason] = []
    seen: set[str] = set()
    steps = {s.id for s in new.steps}
    for task in case.workflow.get_tasks(state=TaskState.COMPLETED):
        spec = task.task_spec
        if not spec.manual or spec.name in seen or spec.name not in steps:
            continue
        seen.add(spec.name)
        fields = _fields(new, spec.name)
        values = {f.id: task.data.get(f.id) for f in fields if task.data.get(f.id) is not None}
        try:
            clean_form(fields, values)
        except InvalidForm as exc:
            details = "; ".join(f"{e.title}: {e.detail}" for e in exc.errors[:5])
            reasons.append(Reason("data_invalid", f"данные выполненного шага "
                                  f"«{spec.bpmn_name or spec.name}» не проходят новую форму: {details}"))
    return reasons


# --------------------------------------------------------------------------------------- move

def _move(case: Case, new: Procedure, top, subs, parsed) -> str | None:
    """Realign the workflow with the new spec (SpiffWorkflow's migrate_workflow), reset its ready
    tasks on it, and record the case's new version, task rows and due date; the reason (for
    clerks) when the flow fails on the new version (the unit of work then writes nothing)."""
    workflow = case.workflow
    # Resetting a task gives it its parent's data: what a command set on the ready task itself
    # (documents_requested, engine.runtime.case.record_document) is put back.
    kept = {task.id: dict(task.data) for task in case.ready_before.values()}
    migrate_workflow(top, workflow, parsed.spec, reset_mask=TaskState.READY)
    for sp_id, d in subs.items():
        sp = workflow.subprocesses[sp_id]
        migrate_workflow(d, sp, parsed.subprocess_specs[sp.spec.name], reset_mask=TaskState.READY)
    workflow.subprocess_specs = parsed.subprocess_specs
    for wf in (workflow, *workflow.subprocesses.values()):
        for task_id, data in kept.items():
            task = wf.tasks.get(task_id)
            if task is not None:
                task.data = data
    try:
        with clock(case.now):
            workflow.do_engine_steps()
    except (WorkflowException, ExpressionError) as exc:
        return f"процесс дела не выполняется по новой версии: {exc}"
    old = case.procedure
    case.procedure = new
    case.changes["version"] = new.version
    case.retask = {tid: {k: v for k, v in case._task_row(task, case.row["due_date"]).items()
                         if k in _TASK_COLUMNS}
                   for tid, task in ready_tasks(workflow).items() if tid in case.ready_before}
    due = _shorter_due(case, old, new)
    if due is not None:
        case.changes.update(due_date=due, overdue=due < case.today)
    return None


def _shorter_due(case: Case, old: Procedure, new: Procedure) -> date | None:
    """The new term's due date, when the new term is shorter and it is earlier than the one in
    force; else None (the due date is kept)."""
    row = case.row
    option_id = row.get("option")  # a case's option: its term is the maximum (checked present)
    old_max = old.option(option_id).term if option_id else old.term.max
    new_max = new.option(option_id).term if option_id else new.term.max
    if parse_term(new_max).sort_key >= parse_term(old_max).sort_key:
        return None
    start = row["start_date"]
    if row["documents_requested"] and new.term.when_documents_requested:
        due = extend_due(start, new_max, new.term.when_documents_requested, case.calendar)
    else:
        due = due_date(start, new_max, case.calendar)
    if row["paused_days"]:
        due = case.calendar.next_working_day(due + timedelta(days=row["paused_days"]))
    return due if due < row["due_date"] else None


def _foreign_tasks(case: Case, parsed) -> list[str]:
    """Tasks still on a spec of the old version after the move (their step has no place in the
    new process), by step id."""
    own = {id(s) for s in parsed.spec.task_specs.values()}
    for sub in parsed.subprocess_specs.values():
        own.update(id(s) for s in sub.task_specs.values())
    workflow = case.workflow
    names = {task.task_spec.name for wf in (workflow, *workflow.subprocesses.values())
             for task in wf.tasks.values() if id(task.task_spec) not in own}
    return sorted(names)[:MAX_LISTED]


# ------------------------------------------------------------------------------------ helpers

def _summary(top, subs) -> dict[str, list[str]]:
    """The diff summary the event records: the steps of the case's tasks removed and changed."""
    removed, changed = set(), set()
    for d in (top, *subs.values()):
        if d is None:
            continue
        removed.update(t.task_spec.name for t in d.removed)
        changed.update(t.task_spec.name for t in d.changed)
    return {"removed": sorted(removed)[:MAX_LISTED], "changed": sorted(changed)[:MAX_LISTED]}


def _fields(proc: Procedure, step_id: str) -> tuple[Field, ...]:
    """The form of step `step_id` of a `steps:` definition; none for a drawn task."""
    return next((s.fields for s in proc.steps if s.id == step_id), ())


def conflicted(case_id: str, to_version: str) -> Verdict:
    """The verdict on a case another command changed while it was being moved: nothing written."""
    return Verdict(case_id, None, "", "", to_version,
                   [Reason("conflict", "дело изменилось во время переноса: повторите перенос")])
