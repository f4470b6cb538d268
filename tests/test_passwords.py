"""The production password hasher: the rest of the suite runs with a cheap one (tests/conftest.py)."""
from __future__ import annotations

import argon2
from argon2.profiles import RFC_9106_LOW_MEMORY
from sqlalchemy import select

from engine import accounts
from engine.accounts import add_user, verify_password
from engine.store.connect import connect
from engine.store.tables import users
from tests.conftest import CHEAP_HASHER
from tests.db_support import url as db_url


def test_production_hashes_carry_argon2s_default_parameters(tmp_path, production_hasher) -> None:
    db = connect(db_url(tmp_path / 'okno.db'))
    add_user(db, "clerk", "correct horse", "clerk", "org-1")
    with db.connect() as conn:
        stored = conn.execute(select(users.c.password_hash)).scalar_one()
    assert argon2.extract_parameters(stored) == RFC_9106_LOW_MEMORY
    assert argon2.extract_parameters(stored) == argon2.extract_parameters(argon2.PasswordHasher().hash("x"))
    assert verify_password(db, "clerk", "correct horse").name == "clerk"
    assert verify_password(db, "clerk", "wrong") is None
    # An unknown name is checked against a dummy hash of the same cost.
    assert verify_password(db, "nobody", "correct horse") is None
    assert argon2.extract_parameters(accounts._dummy()) == RFC_9106_LOW_MEMORY


def test_a_new_hasher_makes_a_new_dummy_hash(production_hasher) -> None:
    assert argon2.extract_parameters(accounts._dummy()) == RFC_9106_LOW_MEMORY
    assert accounts.use_password_hasher(CHEAP_HASHER) is production_hasher
    cheap = argon2.extract_parameters(accounts._dummy())
    assert (cheap.time_cost, cheap.memory_cost, cheap.parallelism) == (1, 8, 1)
