"""Session-wide set-up: a cheap password hasher, a folder for the template databases, and on
PostgreSQL (tests/db_support.py) the dropping of each test's databases and the `sqlite_only` skip."""
from __future__ import annotations

import argon2
import pytest

from engine import accounts
from tests import db_support, templates

pytest_plugins = ["tests.browser"]  # the live server and chromium fixtures of the page tests

# Production hashes with argon2's defaults (~0.6 s each on a busy machine); every API test signs
# up seven users. tests/test_passwords.py checks the production parameters once.
CHEAP_HASHER = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hasher():
    """The production hasher is set aside for the session (yielded: production_hasher uses it)."""
    production = accounts.use_password_hasher(CHEAP_HASHER)
    yield production
    accounts.use_password_hasher(production)


@pytest.fixture
def production_hasher(cheap_password_hasher):
    """The production hasher in use for one test."""
    accounts.use_password_hasher(cheap_password_hasher)
    yield cheap_password_hasher
    accounts.use_password_hasher(CHEAP_HASHER)


@pytest.fixture(scope="session", autouse=True)
def template_databases(tmp_path_factory) -> None:
    templates.use_folder(tmp_path_factory.mktemp("templates"))


def pytest_collection_modifyitems(config, items) -> None:
    if not db_support.on_postgres():
        return
    skip = pytest.mark.skip(reason="about SQLite itself (OKNO_TEST_DATABASE_URL is PostgreSQL)")
    for item in items:
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def test_databases():
    """On PostgreSQL: every database the session made is dropped when it ends."""
    yield
    if db_support.on_postgres():
        db_support.drop_all()


@pytest.fixture(autouse=True)
def own_databases(test_databases):
    """On PostgreSQL: the databases a test made are dropped when it ends (wider fixtures' stay)."""
    before = db_support.created_count()
    yield
    if db_support.on_postgres():
        db_support.drop_since(before)
