"""Law No. 433-З's general grounds for refusing an application, shared by every procedure.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

import orjson
import yaml

from engine.definition.procedure import Ground

LAW_PATH = Path(__file__).resolve().parent / "data" / "law_433.yaml"
@cache
def general_grounds_json() -> bytes:
    grounds = general_grounds()
    return orjson.dumps({key: [[g.id, g.title, g.legal_basis] for g in grounds[key]] for key in grounds},
                        option=orjson.OPT_SORT_KEYS)


@cache
def general_grounds() -> dict[str, tuple[Ground, ...]]:
    data = yaml.safe_load(LAW_PATH.read_text(encoding="utf-8"))
    return {key: tuple(Ground(**g) for g in data[key]) for key in data}


