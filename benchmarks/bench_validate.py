"""Benchmark: `okno validate` on a generated catalog of 1,000 procedures.

The procedures are valid, realistic definitions (3–5 KB of YAML each, Russian text, 3–8
documents, 4–7 steps with fields and conditions, every kind of fee, term and validity), written
to a temporary folder; `engine.catalog.validate_paths` is timed over the whole folder — reading,
the safe YAML reader, the JSON Schema, the semantic checks and building the Procedures — as the
median of 5 runs. Goal: under 2 s. Run: `make bench`, `python -m benchmarks validate` or
`python -m benchmarks.bench_validate`.
"""
from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from engine.definition.validation import SCHEMA_PATH, validate_paths

SIZE = 1000
RUNS = 5
GOAL_SECONDS = 2.0

WORDS = (
    "заявление", "справка", "паспорт", "свидетельство", "решение", "документ", "сведения", "жилое",
    "помещение", "регистрация", "место", "жительства", "пребывания", "пособие", "семья", "ребенок",
    "гражданин", "организация", "исполнительный", "комитет", "учреждение", "образования", "архив",
    "копия", "выписка", "книга", "учет", "нуждающихся", "улучшение", "жилищных", "условий",
    "подтверждающий", "внесение", "платы",
)
# The kinds the schema allows (its enum is the one list of them).
_AUTHORITY = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))["properties"]["authorities"]
AUTHORITY_KINDS = tuple(_AUTHORITY["items"]["properties"]["kind"]["enum"])
TERMS = ("same day", "1 day", "3 working days", "5 working days", "7 days", "10 days", "15 days",
         "15 calendar days", "1 month")
LONGER_TERMS = ("1 month", "2 months", "3 months")
CHANNEL_SETS = (["in_person"], ["in_person", "post"], ["in_person", "portal"],
                ["in_person", "post", "portal"])


def text(rng: random.Random, words: int) -> str:
    sentence = " ".join(rng.choice(WORDS) for _ in range(words))
    return sentence[0].upper() + sentence[1:]


def ground(rng: random.Random, ident: str) -> dict[str, Any]:
    return {"id": ident, "title": text(rng, rng.randint(4, 10)),
            "legal_basis": f"Закон № {rng.randint(100, 500)}-З, ст. {rng.randint(1, 60)}"}


def procedure(rng: random.Random, number: str) -> dict[str, Any]:
    """One valid definition with a realistic mix of everything the format offers."""
    chapter = int(number.split(".")[0])
    documents = [{"id": "application", "title": "заявление"},
                 {"id": "passport", "title": "паспорт или иной документ, удостоверяющий личность"}]
    for i in range(rng.randint(1, 5)):
        doc: dict[str, Any] = {"id": f"document_{i}", "title": text(rng, rng.randint(6, 14))}
        if rng.random() < 0.4:
            doc["notes"] = text(rng, rng.randint(5, 10))
        if rng.random() < 0.3:
            doc["condition"] = rng.choice(["not exempt", "channel == 'post'", "has_children",
                                           "applicant_kind == 'foreign'"])
        documents.append(doc)
    requested = [{"id": f"requested_{i}", "title": text(rng, rng.randint(4, 10)),
                  "source": text(rng, rng.randint(3, 8)), "citizen_may_bring": rng.random() < 0.8}
                 for i in range(rng.randint(0, 3))]

    fee_kind = rng.choice(["free", "base_units", "by_category"])
    fee: dict[str, Any] = {"kind": fee_kind}
    if fee_kind == "base_units":
        fee["base_units"] = rng.choice([0.1, 0.5, 1, 2, 5])
    elif fee_kind == "by_category":
        fee["categories"] = [{"id": f"category_{i}", "title": text(rng, 5),
                              "base_units": rng.choice([0.1, 0.5, 1, 2])}
                             for i in range(rng.randint(2, 3))]
    if fee_kind != "free" and rng.random() < 0.5:
        fee["exemptions"] = [ground(rng, f"exemption_{i}") for i in range(rng.randint(1, 3))]

    term: dict[str, Any] = {"max": rng.choice(TERMS)}
    if requested:
        term["when_documents_requested"] = rng.choice(LONGER_TERMS)
    if rng.random() < 0.3:
        term["notes"] = text(rng, 10)

    validity = rng.choice([
        {"kind": "unlimited"}, {"kind": "lump_sum"},
        {"kind": "duration", "duration": rng.choice(["6 months", "12 months", "30 days"])},
        {"kind": "until_event", "event": text(rng, 6)},
    ])

    roles = [{"id": "clerk", "title": "специалист службы «одно окно»", "acts_as": "clerk"},
             {"id": "specialist", "title": text(rng, 5), "acts_as": "clerk"},
             {"id": "head", "title": "руководитель", "acts_as": "supervisor"}]
    fields = [
        {"id": "applicant_kind", "title": "Заявитель", "type": "choice", "required": True,
         "choices": [{"id": "citizen", "title": "гражданин Республики Беларусь"},
                     {"id": "foreign", "title": "иностранный гражданин"}]},
        {"id": "has_children", "title": "Есть дети", "type": "boolean", "required": True},
        {"id": "personal_number", "title": "Идентификационный номер", "type": "string",
         "pattern": "^[0-9]{7}[A-Z][0-9]{3}[A-Z]{2}[0-9]$", "required": rng.random() < 0.5},
    ]
    steps: list[dict[str, Any]] = [
        {"id": "intake", "kind": "intake", "title": "Прием заявления и документов",
         "role": "clerk", "fields": fields},
    ]
    if requested:
        steps.append({"id": "request", "kind": "request_documents", "title": "Запрос документов",
                      "role": "specialist", "term": "5 working days",
                      "condition": "applicant_kind == 'citizen' or channel != 'portal'"})
    for i in range(rng.randint(1, 3)):
        step: dict[str, Any] = {"id": f"review_{i}", "kind": rng.choice(["review", "task"]),
                                "title": text(rng, 4), "role": "specialist"}
        if rng.random() < 0.5:
            step["fields"] = [{"id": f"family_size_{i}", "title": "Состав семьи",
                               "type": "integer", "min": 1, "max": 20},
                              {"id": f"remark_{i}", "title": "Замечание", "type": "text",
                               "max_length": 2000}]
        if rng.random() < 0.3:
            step["condition"] = "has_children and not exempt"
        steps.append(step)
    steps.append({"id": "decision", "kind": "decision", "title": "Принятие решения",
                  "role": "head", "term": rng.choice(TERMS[:4])})
    steps.append({"id": "issue", "kind": "issue", "title": "Выдача результата", "role": "clerk",
                  "notes": text(rng, 8)})

    data: dict[str, Any] = {
        "number": number,
        "chapter": chapter,
        "name": {"ru": text(rng, rng.randint(8, 20))},
        "legal_basis": [f"Указ Президента Республики Беларусь от 26 апреля 2010 г. № 200, п. {number}"],
        "authorities": [{"kind": rng.choice(AUTHORITY_KINDS), "title": text(rng, 8)}
                        for _ in range(rng.randint(1, 2))],
        "channels": rng.choice(CHANNEL_SETS),
        "documents": documents,
    }
    if requested:
        data["requested_documents"] = requested
    data |= {
        "fee": fee,
        "term": term,
        "validity": validity,
        "result": {"title": text(rng, rng.randint(3, 8))},
        "appeal": {"superior_body": text(rng, 5), "term": "12 months"},
        "suspension": {"allowed": rng.random() < 0.3},
        "roles": roles,
        "steps": steps,
    }
    if data["suspension"]["allowed"]:
        data["suspension"]["grounds"] = [ground(rng, "inquiry")]
    if rng.random() < 0.5:
        data["refusal_grounds"] = [ground(rng, f"own_ground_{i}") for i in range(rng.randint(1, 3))]
    return data


def numbers(count: int) -> list[str]:
    """Distinct numbers N.M and N.M.K over chapters 1..22, as the official list has."""
    result: list[str] = []
    chapter, item = 1, 1
    while len(result) < count:
        if item % 4 == 0:
            result.extend(f"{chapter}.{item}.{sub}" for sub in range(1, 4))
        else:
            result.append(f"{chapter}.{item}")
        item += 1
        if item > 50:
            chapter, item = chapter + 1, 1
    return result[:count]


def generate(folder: Path, count: int = SIZE, seed: int = 200) -> int:
    """Write `count` procedure files into `folder`; return their total size in bytes."""
    rng = random.Random(seed)
    total = 0
    for number in numbers(count):
        raw = ("# yaml-language-server: $schema=../schemas/procedure.schema.json\n"
               + yaml.safe_dump(procedure(rng, number), sort_keys=False, allow_unicode=True,
                                width=100)).encode("utf-8")
        (folder / f"{number}.yaml").write_bytes(raw)
        total += len(raw)
    return total


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="okno-bench-validate-") as tmp:
        folder = Path(tmp)
        size = generate(folder)
        procedures, problems = validate_paths([folder])  # also warms the cached schema validator
        if problems or len(procedures) != SIZE:
            raise SystemExit("generated catalog is not valid:\n" + "\n".join(map(str, problems[:20])))
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            validate_paths([folder])
            times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(f"generated {SIZE} procedures, {size / SIZE / 1024:.1f} KB each on average")
    print(f"validate {SIZE} procedures: median {median:.2f} s (goal < {GOAL_SECONDS:.0f} s; "
          f"runs {', '.join(f'{t:.2f}' for t in times)})"
          + ("" if median < GOAL_SECONDS else "  ** over the goal **"))


if __name__ == "__main__":
    main()
