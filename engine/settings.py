"""okno's settings: one object, read from the environment (`OKNO_*`) once, at the entry point.

A face (a CLI command, the app factory) builds `Settings()` and hands it, or the values it needs,
down as arguments; no other module reads the environment. A value that does not parse stops the
process at startup with `SettingsError` naming the variable, instead of falling back silently to
the default. An empty variable counts as unset. docs/operations.md lists every setting.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.clock import DEFAULT_ZONE
from engine.idempotency import DEFAULT_RETENTION
from engine.store.connect import DEFAULT_URL
from engine.terms import DEFAULT_OVERRIDES_PATH

ENV_PREFIX = "OKNO_"
DEFAULT_CATALOG = Path(__file__).resolve().parent.parent / "procedures"


class SettingsError(ValueError):
    """A setting has a value okno cannot use; the message names its environment variable."""


class Settings(BaseSettings):
    """Every setting okno reads from its environment (variable: `OKNO_` + the field's name)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True,
                                      extra="forbid")

    database_url: str = Field(DEFAULT_URL, min_length=1,
                              description="SQLAlchemy URL of the database")
    catalog: Path = Field(DEFAULT_CATALOG,
                          description="folder of procedure definitions published at start")
    secret_key: SecretStr | None = Field(None, description="signs access tokens (default: the "
                                                           "key kept in `secret_file`)")
    secret_file: Path = Field(Path("var/secret.key"),
                              description="where the generated signing key is kept")
    token_minutes: int = Field(60, ge=1, description="lifetime of an access token")
    account_cache_seconds: float = Field(5.0, ge=0, allow_inf_nan=False,
                                         description="how long a server process trusts an "
                                                     "account row it read (0: not at all)")
    idempotency_hours: int = Field(DEFAULT_RETENTION // timedelta(hours=1), ge=1,
                                   description="how long an Idempotency-Key is remembered")
    calendar_overrides: Path = Field(DEFAULT_OVERRIDES_PATH,
                                     description="working-day transfers the `holidays` package "
                                                 "does not know yet")
    timezone: ZoneInfo = Field(DEFAULT_ZONE,
                               description="the zone whose dates legal terms count in")

    def __init__(self, **values: Any) -> None:
        """Read the environment; `values` (e.g. a CLI option) win over it."""
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError(describe(exc)) from None

    @property
    def idempotency_retention(self) -> timedelta:
        return timedelta(hours=self.idempotency_hours)


def variable(field: str) -> str:
    """The environment variable of a setting: `token_minutes` -> `OKNO_TOKEN_MINUTES`."""
    return ENV_PREFIX + field.upper()


def describe(exc: ValidationError) -> str:
    """One line per invalid setting, naming its variable and (unless secret) the value given."""
    lines = []
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else "?"
        shown = "" if field == "secret_key" else f"={error.get('input')!r}"
        lines.append(f"{variable(field)}{shown}: {error['msg']}")
    return "invalid setting: " + "; ".join(lines)
