"""Benchmark: `engine.diff.diff_catalogs` on two generated catalogs of 1,000 procedures.

About 10 % of the procedures differ (terms, documents, fees, channels, validity, names, numbers,
added and removed procedures). The diff is timed as the median of 5 runs; loading the generated
catalogs (YAML files validated by `engine.catalog.load_catalog`) is timed separately. Goal: the
diff under 1 s. Run: `python -m benchmarks` or `python -m benchmarks.bench_diff`.
"""
from __future__ import annotations

import copy
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from engine.definition.build import build_procedure
from engine.definition.validation import load_catalog
from engine.diff.pairing import diff_catalogs

SIZE = 1000
CHANGED = 0.10
RUNS = 5
GOAL_SECONDS = 1.0

BASE: dict[str, Any] = {
    "number": "1.1",
    "chapter": 1,
    "name": {"ru": "Выдача справки"},
    "legal_basis": ["Указ Президента Республики Беларусь от 26 апреля 2010 г. № 200"],
    "authorities": [{"kind": "local_executive_committee", "title": "местный исполнительный комитет"}],
    "channels": ["in_person", "post"],
    "documents": [],
    "requested_documents": [
        {"id": "archive_record", "title": "сведения из архива", "source": "государственный архив"},
    ],
    "fee": {"kind": "free"},
    "term": {"max": "15 days", "when_documents_requested": "1 month"},
    "validity": {"kind": "unlimited"},
    "result": {"title": "справка"},
    "roles": [
        {"id": "clerk", "title": "специалист службы «одно окно»", "acts_as": "clerk"},
        {"id": "head", "title": "руководитель", "acts_as": "supervisor"},
    ],
    "steps": [
        {"id": "intake", "kind": "intake", "title": "Прием заявления", "role": "clerk"},
        {"id": "decision", "kind": "decision", "title": "Решение", "role": "head"},
        {"id": "issue", "kind": "issue", "title": "Выдача результата", "role": "clerk"},
    ],
}
VERBS = ("Выдача справки о", "Принятие решения о", "Регистрация", "Назначение пособия по",
         "Выдача разрешения на", "Согласование", "Постановка на учет по")
OBJECTS = ("месте жительства", "составе семьи", "доходах", "трудовом стаже", "земельном участке",
           "жилом помещении", "транспортном средстве", "образовании", "инвалидности", "пенсии",
           "браке", "рождении ребенка", "смерти", "перемене имени", "гражданстве")
DOCS = [("application", "заявление"), ("passport", "паспорт или иной документ, удостоверяющий личность"),
        ("birth_certificate", "свидетельство о рождении ребенка"), ("photo", "фотография 30 х 40 мм"),
        ("income", "сведения о доходах за последние 12 месяцев"), ("marriage", "свидетельство о браке"),
        ("title_deed", "документ, подтверждающий право собственности"),
        ("payment_proof", "документ, подтверждающий внесение платы")]
TERMS = ("same day", "5 days", "3 working days", "10 days", "15 days", "1 month")
VALIDITIES = ({"kind": "unlimited"}, {"kind": "duration", "duration": "6 months"},
              {"kind": "duration", "duration": "1 month"}, {"kind": "lump_sum"},
              {"kind": "until_event", "event": "до достижения ребенком 3 лет"})


def _fee(rng: random.Random) -> dict[str, Any]:
    pick = rng.random()
    if pick < 0.6:
        return {"kind": "free"}
    if pick < 0.85:
        return {"kind": "base_units", "base_units": rng.choice((0.1, 0.5, 1, 2))}
    return {"kind": "by_category", "categories": [
        {"id": "citizen_by", "title": "граждане Республики Беларусь", "base_units": 0.1},
        {"id": "foreign", "title": "иностранные граждане", "base_units": rng.choice((0.5, 1))}]}


def _definition(rng: random.Random, chapter: int, item: int) -> dict[str, Any]:
    d = copy.deepcopy(BASE)
    d["number"], d["chapter"] = f"{chapter}.{item}", chapter
    d["name"] = {"ru": f"{rng.choice(VERBS)} {rng.choice(OBJECTS)} (вид {chapter}-{item})"}
    d["documents"] = [{"id": i, "title": t} for i, t in rng.sample(DOCS, rng.randint(1, 6))]
    if rng.random() < 0.3:
        d["documents"][-1]["condition"] = "channel != 'portal'"
    d["fee"] = _fee(rng)
    d["term"] = {"max": rng.choice(TERMS[:-1])}
    if rng.random() < 0.5:
        d["term"]["when_documents_requested"] = "1 month"
    d["validity"] = copy.deepcopy(rng.choice(VALIDITIES))
    if rng.random() < 0.3:
        d["channels"] = ["in_person", "post", "portal"]
    return d


def _change(rng: random.Random, d: dict[str, Any], taken: set[str]) -> dict[str, Any] | None:
    """One random change to a definition; None removes the procedure."""
    d = copy.deepcopy(d)
    op = rng.randrange(9)
    if op == 0:
        d["term"]["max"] = rng.choice([t for t in TERMS if t != d["term"]["max"]])
        if d["term"].get("when_documents_requested") == "1 month" and d["term"]["max"] == "1 month":
            del d["term"]["when_documents_requested"]
    elif op == 1:
        have = {x["id"] for x in d["documents"]}
        spare = [(i, t) for i, t in DOCS if i not in have]
        if spare:
            i, t = rng.choice(spare)
            d["documents"].append({"id": i, "title": t})
    elif op == 2 and len(d["documents"]) > 1:
        d["documents"].pop(rng.randrange(len(d["documents"])))
    elif op == 3:
        d["fee"] = _fee(rng)
    elif op == 4:
        d["name"]["ru"] += " и выдача дубликата"
    elif op == 5:
        chapter = d["chapter"]
        item = max(int(n.split(".")[1]) for n in taken if n.startswith(f"{chapter}.")) + 1
        d["number"] = f"{chapter}.{item}"
        taken.add(d["number"])
    elif op == 6:
        return None
    elif op == 7:
        d["channels"] = ["in_person", "post"] if "portal" in d["channels"] else \
            ["in_person", "post", "portal"]
    else:
        d["validity"] = copy.deepcopy(rng.choice(VALIDITIES))
    return d


def generate(size: int = SIZE, changed: float = CHANGED, seed: int = 200
             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Two lists of definitions: the old catalog and the new one (~`changed` of it different)."""
    rng = random.Random(seed)
    chapters = 20
    old = [_definition(rng, 1 + i % chapters, 1 + i // chapters) for i in range(size)]
    taken = {d["number"] for d in old}
    new: list[dict[str, Any]] = []
    for d in old:
        if rng.random() < changed:
            after = _change(rng, d, taken)
            if after is not None:
                new.append(after)
        else:
            new.append(copy.deepcopy(d))
    # Keep the size: new procedures at the end of chapters replace the removed ones.
    while len(new) < size:
        chapter = rng.randint(1, chapters)
        item = max(int(n.split(".")[1]) for n in taken if n.startswith(f"{chapter}.")) + 1
        added = _definition(rng, chapter, item)
        taken.add(added["number"])
        new.append(added)
    return old, new


def _write(folder: Path, definitions: list[dict[str, Any]]) -> None:
    folder.mkdir(parents=True)
    for d in definitions:
        (folder / f"{d['number']}.yaml").write_text(
            yaml.safe_dump(d, allow_unicode=True, sort_keys=False), encoding="utf-8")


def main() -> None:
    old_defs, new_defs = generate()
    started = time.perf_counter()
    old = {d["number"]: build_procedure(d, f"{d['number']}.yaml") for d in old_defs}
    new = {d["number"]: build_procedure(d, f"{d['number']}.yaml") for d in new_defs}
    build_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="okno-bench-") as tmp:
        _write(Path(tmp) / "old", old_defs)
        _write(Path(tmp) / "new", new_defs)
        started = time.perf_counter()
        loaded_old = load_catalog(Path(tmp) / "old")
        loaded_new = load_catalog(Path(tmp) / "new")
        load_s = time.perf_counter() - started
    assert len(loaded_old) == len(old) and len(loaded_new) == len(new)
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        diff = diff_catalogs(loaded_old, loaded_new)
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    changed = len({(c.old_number, c.new_number) for c in diff.changes})
    print(f"bench_diff: {len(old)} -> {len(new)} procedures, {changed} differ, "
          f"{len(diff.changes)} changes {diff.summary}")
    print(f"bench_diff: build from dicts {build_s:.3f} s; load_catalog (YAML + validation) "
          f"of both sides {load_s:.3f} s")
    print(f"bench_diff: diff_catalogs median of {RUNS}: {median * 1000:.1f} ms "
          f"(goal < {GOAL_SECONDS:.0f} s: {'OK' if median < GOAL_SECONDS else 'SLOW'})")


if __name__ == "__main__":
    main()
