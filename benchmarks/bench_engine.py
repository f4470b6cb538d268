"""Case engine throughput against raw SpiffWorkflow, measured in the same run.

Figures are medians of several rounds; compare the ratios, not the absolute numbers (the machine
is shared). What is measured:
- raw: SpiffWorkflow completing the same process in memory, no storage (the floor);
- default: SpiffWorkflow's default serializer (spec embedded, task data as diffs) writing the whole
  workflow to an SQLite row after every step, as an application would without our store;
- okno: `Cases.complete_task` persisted to SQLite (spec cached per version, spec-less orjson state,
  task side table, audit event, optimistic version check), with and without the live-case cache;
- cases started per second;
- the cost of one step after 10 and after 100 completed steps (must not grow quadratically);
- the cost of one step with 1,000 and with 100,000 cases stored (must stay flat).
"""
from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import TaskState
from sqlalchemy import insert, select

from engine.audit.keys import Keyring
from engine.audit.ledger import Ledger
from engine.clock import FixedClock
from engine.definition.build import build_procedure
from engine.definition.validation import load_catalog
from engine.expressions import SafeScriptEngine
from engine.process.specs import load_spec
from engine.runtime.commands import Cases
from engine.runtime.forms import example_form
from engine.store.connect import connect
from engine.store.tables import cases, tasks
from engine.store.versions import Versions

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 7
NUMBER = "1.1.5"  # the housing register: forms, a conditional step, the outcome gateway

LOOP_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="loop_defs"
  targetNamespace="http://okno.example/bench">
  <bpmn:process id="procedure_99_1" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="lane_clerk" name="clerk">
      <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>work</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>more</bpmn:flowNodeRef><bpmn:flowNodeRef>end</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="work" name="Work"><bpmn:incoming>f1</bpmn:incoming><bpmn:incoming>f3</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:exclusiveGateway id="more" default="f3"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing><bpmn:outgoing>f4</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="more"/>
    <bpmn:sequenceFlow id="f3" sourceRef="more" targetRef="work"/>
    <bpmn:sequenceFlow id="f4" sourceRef="more" targetRef="end">
      <bpmn:conditionExpression>done == True</bpmn:conditionExpression></bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>
"""


def _median_rate(fn, count: int) -> float:
    """Median operations per second of `fn(count)` over ROUNDS rounds."""
    rates = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn(count)
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def _loop_procedure():
    data = load_catalog(ROOT / "procedures")[NUMBER].definition
    data.pop("steps", None)
    data.update(number="99.1", chapter=99, bpmn="loop.bpmn",
                roles=[{"id": "clerk", "title": "специалист", "acts_as": "clerk"}])
    return build_procedure(data, "99.1.yaml", LOOP_BPMN)


class _Setup:
    def __init__(self, folder: Path, name: str, cache_size: int = 2048) -> None:
        self.db = connect(f"sqlite:///{folder / name}")
        self.clock = FixedClock(datetime(2025, 6, 18, 7, 0, tzinfo=UTC))
        self.versions = Versions(self.db, self.clock)
        self.catalog = load_catalog(ROOT / "procedures")
        self.loop = _loop_procedure()
        self.versions.publish([*self.catalog.values(), self.loop])
        self.cases = Cases(self.db, self.versions, self.clock, cache_size=cache_size,
                           ledger=Ledger(Keyring.of("bench-audit-key-" + "z" * 40), None))

    def start(self, number: str = NUMBER) -> str:
        return self.cases.start(number, applicant="a", channel="in_person", authority="org",
                                actor="clerk")

    def open_task(self, case_id: str) -> str | None:
        row = self._open(case_id)
        return row.id if row is not None else None

    def _open(self, case_id: str):
        with self.db.connect() as conn:
            return conn.execute(select(tasks.c.id, tasks.c.step, tasks.c.kind).where(
                tasks.c.case_id == case_id, tasks.c.state == "open")).first()

    def started(self, count: int) -> list[tuple[str, Any]]:
        """`count` started cases with their first open task (untimed, like the raw baseline's),
        the documents the citizen presents recorded (intake waits for them)."""
        ids = [self.start() for _ in range(count)]
        for case_id in ids:
            for doc in self.catalog[NUMBER].documents:
                self.cases.record_document(case_id, doc.id, "presented", actor="clerk")
        return [(case_id, self._open(case_id)) for case_id in ids]

    def finish(self, started: tuple[str, Any]) -> int:
        """Complete the case's tasks in order with valid form data; returns the steps done.

        The next task comes from what `complete_task` returns, as a clerk's client would use it,
        so the measurement holds the engine's work only.
        """
        proc = self.catalog[NUMBER]
        case_id, first = started
        pending = [first]
        steps = 0
        while pending:
            task = pending.pop(0)
            step = proc.step(task.step)
            data = example_form(step.fields)
            if step.kind == "decision":
                data["outcome"] = "approve"
            pending.extend(self.cases.complete_task(case_id, task.id, data, actor="clerk"))
            steps += 1
        return steps


def _data_for(proc, task) -> dict:
    data = example_form(proc.step(task.task_spec.name).fields)
    if task.task_spec.name == "decision":
        data["outcome"] = "approve"
    return data


def raw_workflows(proc, count_cases: int) -> list[BpmnWorkflow]:
    """Started workflows waiting at their first task (made outside the timing, as okno's are)."""
    spec = load_spec(proc)
    workflows = []
    for _ in range(count_cases):
        wf = BpmnWorkflow(spec.spec, spec.subprocess_specs, script_engine=SafeScriptEngine())
        wf.do_engine_steps()
        workflows.append(wf)
    return workflows


def raw_in_memory(proc, workflows: list[BpmnWorkflow]) -> int:
    """Complete started workflows in memory, the same steps okno persists; returns the steps."""
    steps = 0
    for wf in workflows:
        while ready := wf.get_tasks(state=TaskState.READY, manual=True):
            task = ready[0]
            task.set_data(**_data_for(proc, task))
            task.run()
            wf.do_engine_steps()
            steps += 1
    return steps


class _DefaultStore:
    """SpiffWorkflow's default serializer (spec embedded, data as diffs), one SQLite row per case."""

    def __init__(self, proc, folder: Path) -> None:
        self.proc = proc
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
        self.conn = sqlite3.connect(folder / "default.db", isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS wf (id TEXT PRIMARY KEY, state TEXT)")

    def start(self, count: int) -> list[str]:
        ids = []
        for wf in raw_workflows(self.proc, count):
            ids.append(str(uuid.uuid4()))
            self.conn.execute("INSERT INTO wf VALUES (?, ?)", (ids[-1], self.serializer.serialize_json(wf)))
        return ids

    def finish(self, ids: list[str]) -> int:
        """Load, step and save every case until it ends: the whole workflow per step."""
        steps = 0
        for case_id in ids:
            while True:
                state = self.conn.execute("SELECT state FROM wf WHERE id = ?", (case_id,)).fetchone()[0]
                wf = self.serializer.deserialize_json(state)
                wf.script_engine = SafeScriptEngine()
                ready = wf.get_tasks(state=TaskState.READY, manual=True)
                if not ready:
                    break
                ready[0].set_data(**_data_for(self.proc, ready[0]))
                ready[0].run()
                wf.do_engine_steps()
                self.conn.execute("BEGIN IMMEDIATE")
                self.conn.execute("UPDATE wf SET state = ? WHERE id = ?",
                                  (self.serializer.serialize_json(wf), case_id))
                self.conn.execute("COMMIT")
                steps += 1
        return steps


def _interleaved(variants: dict, rounds: int = ROUNDS) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) steps/s per variant; rounds alternate variants so load drift hits all."""
    wall: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, (prepare, run) in variants.items():
            prepared = prepare()
            start, start_cpu = time.perf_counter(), time.process_time()
            steps = run(prepared)
            wall[name].append(steps / (time.perf_counter() - start))
            cpu[name].append(steps / (time.process_time() - start_cpu))
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name in variants}


def _step_cost_after(setup: _Setup, done: int, samples: int = 20) -> float:
    """Median milliseconds of one step in a loop case that already has `done` completed steps."""
    case_id = setup.start("99.1")
    for _ in range(done):
        setup.cases.complete_task(case_id, setup.open_task(case_id), {"done": False}, actor="clerk")
    times = []
    for _ in range(samples):
        task_id = setup.open_task(case_id)
        start = time.perf_counter()
        setup.cases.complete_task(case_id, task_id, {"done": False}, actor="clerk")
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _raw_step_cost_after(proc, done: int, samples: int = 20) -> float:
    """The same as `_step_cost_after` for raw SpiffWorkflow in memory: its own growth with history
    (every loop round adds tasks to the tree it walks), the floor okno's growth compares to."""
    spec = load_spec(proc)
    wf = BpmnWorkflow(spec.spec, spec.subprocess_specs, script_engine=SafeScriptEngine())
    wf.do_engine_steps()

    def step() -> None:
        task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
        task.set_data(done=False)
        task.run()
        wf.do_engine_steps()

    for _ in range(done):
        step()
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _fill(setup: _Setup, total: int) -> None:
    """Store `total` cases in all, by copying the row of a real started case (fast, realistic size)."""
    template = None
    with setup.db.connect() as conn:
        have = conn.execute(select(cases.c.id)).scalars().all()
        template = dict(conn.execute(select(cases).where(cases.c.id == have[0])).one()._mapping)
    missing = total - len(have)
    batch = []
    with setup.db.begin() as conn:
        for _ in range(missing):
            batch.append({**template, "id": str(uuid.uuid4())})
            if len(batch) == 5000:
                conn.execute(insert(cases), batch)
                batch = []
        if batch:
            conn.execute(insert(cases), batch)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        proc = load_catalog(ROOT / "procedures")[NUMBER]
        count = 50  # cases per round; every round starts its cases untimed, then times the steps
        default_store = _DefaultStore(proc, folder)
        cold = _Setup(folder, "cold.db", cache_size=0)
        warm = _Setup(folder, "warm.db")
        rows = list(_interleaved({
            "raw SpiffWorkflow in memory": (
                lambda: raw_workflows(proc, count), lambda wfs: raw_in_memory(proc, wfs)),
            "default serializer, SQLite": (
                lambda: default_store.start(count), default_store.finish),
            "okno persisted, no live cache": (
                lambda: cold.started(count), lambda pairs: sum(map(cold.finish, pairs))),
            "okno persisted, live cache": (
                lambda: warm.started(count), lambda pairs: sum(map(warm.finish, pairs))),
        }).items())
        started = _median_rate(lambda n: [warm.start() for _ in range(n)], 200)
        (raw_wall, raw_cpu) = rows[0][1]
        print(f"engine: process {NUMBER} ({proc.name[:50]}…), medians of {ROUNDS} rounds of {count} cases")
        print(f"  {'':32s} {'wall steps/s':>12s} {'of raw':>7s} {'CPU steps/s':>12s} {'of raw':>7s}")
        for label, (wall, cpu) in rows:
            print(f"  {label:32s} {wall:12.0f} {wall / raw_wall:7.1%} {cpu:12.0f} {cpu / raw_cpu:7.1%}")
        print(f"  okno cases started: {started:.0f} cases/s")
        growth = [("raw in memory", lambda done: _raw_step_cost_after(warm.loop, done))]
        growth += [(label, lambda done, s=setup: _step_cost_after(s, done))
                   for label, setup in (("okno, no cache", cold), ("okno, live cache", warm))]
        for label, cost in growth:
            after10 = statistics.median(cost(10) for _ in range(3))
            after100 = statistics.median(cost(100) for _ in range(3))
            print(f"  one step after 10 / 100 steps ({label}): {after10:.2f} ms / {after100:.2f} ms "
                  f"(x{after100 / after10:.2f})")
        flat = _Setup(folder, "flat.db", cache_size=0)
        flat.start()
        results = []
        for total in (1_000, 100_000):
            _fill(flat, total)
            results.append((total, statistics.median(_step_cost_after(flat, 0, samples=30)
                                                     for _ in range(5))))
        (n1, t1), (n2, t2) = results
        print(f"  one step with {n1:,} / {n2:,} cases stored: {t1:.2f} ms / {t2:.2f} ms (x{t2 / t1:.2f})")


if __name__ == "__main__":
    main()
