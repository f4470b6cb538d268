"""okno's settings: one object, read from the environment (`OKNO_*`) once, at the entry point.

A face (a CLI command, the app factory) builds `Settings()` and hands it, or the values it needs,
down as arguments; no other module reads the environment. A value that does not parse stops the
process at startup with `SettingsError` naming the variable, instead of falling back silently to
the default. An empty variable counts as unset. docs/operations.md lists every setting.
"""
from __future__ import annotations

from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from engine.audit.keys import DEFAULT_KEY_FILE, load_keyring
from engine.audit.ledger import DEFAULT_CHECKPOINTS, Ledger
from engine.authorities.validation import DEFAULT_PATH as DEFAULT_AUTHORITIES
from engine.clock import DEFAULT_ZONE
from engine.errors import InvalidInput
from engine.idempotency import DEFAULT_RETENTION
from engine.money import DEFAULT_PATH as DEFAULT_BASE_UNITS
from engine.notices.drafts import check_address
from engine.notices.mail import DEFAULT_PORT, DEFAULT_SENDER, DEFAULT_TIMEOUT, SmtpConfig
from engine.notices.outbox import DEFAULT_ATTEMPTS
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
    authorities: Path = Field(DEFAULT_AUTHORITIES,
                              description="folder of the authorities catalog (read at start and "
                                          "again when it changes)")
    base_units: Path = Field(DEFAULT_BASE_UNITS,
                             description="the base unit values by effective date (read at start "
                                         "and again when the file changes)")
    secret_key: SecretStr | None = Field(None, description="signs access tokens (default: the "
                                                           "key kept in `secret_file`)")
    secret_file: Path = Field(Path("var/secret.key"),
                              description="where the generated signing key is kept")
    audit_key: SecretStr | None = Field(None, description="keys the audit log: one key of 32 or more "
                                                          "characters, or several separated by spaces, "
                                                          "newest last (default: `audit_key_file`)")
    audit_key_file: Path = Field(DEFAULT_KEY_FILE,
                                 description="where the audit keys are kept, one per line, newest "
                                             "last (created with a random key, mode 0600)")
    audit_checkpoints: Path = Field(DEFAULT_CHECKPOINTS,
                                    description="folder the signed checkpoints of the audit log "
                                                "are written to (keep it off the database's disk)")
    token_minutes: int = Field(60, ge=1, description="lifetime of an access token")
    idempotency_hours: int = Field(DEFAULT_RETENTION // timedelta(hours=1), ge=1,
                                   description="how long an Idempotency-Key is remembered")
    calendar_overrides: Path = Field(DEFAULT_OVERRIDES_PATH,
                                     description="working-day transfers the `holidays` package "
                                                 "does not know yet")
    timezone: ZoneInfo = Field(DEFAULT_ZONE,
                               description="the zone whose dates legal terms count in")

    # Signing in (api/auth.py): failed attempts counted in the database (engine.signin_throttle).
    signin_window_minutes: int = Field(15, ge=1, description="the window failed sign-ins are "
                                                             "counted in")
    signin_attempts: int = Field(5, ge=1, description="failed sign-ins for one name from one "
                                                      "address")
    signin_name_attempts: int = Field(100, ge=1, description="failed sign-ins for one name from "
                                                             "all addresses")
    signin_address_attempts: int = Field(50, ge=1, description="failed sign-ins from one address, "
                                                               "whatever the names")
    # Signing up as an applicant (api/auth.py): accounts made from one address within a window.
    signup_window_minutes: int = Field(60, ge=1, description="the window sign-ups are counted in")
    signup_attempts: int = Field(5, ge=1, description="sign-ups from one address in the window")
    signin_hashes: int = Field(2, ge=1, le=64, description="password hashes computed at once per "
                                                           "process (each takes ~64 MiB)")
    trusted_proxies: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = Field(
        (), description="addresses or networks of the reverse proxies whose X-Forwarded-For "
                        "is believed (comma-separated; none by default)")

    metrics_networks: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = Field(
        (ip_network("127.0.0.0/8"), ip_network("::1/128")),
        description="addresses or networks that may read GET /metrics (comma-separated; "
                    "loopback by default)")

    # Serving (api/serve.py, api/limits.py): what one client may hold of a server process.
    header_timeout_seconds: float = Field(10.0, gt=0, le=3600, allow_inf_nan=False,
                                          description="time to send a request's line and headers")
    body_timeout_seconds: float = Field(30.0, gt=0, le=3600, allow_inf_nan=False,
                                        description="time to send a request's whole body")
    keep_alive_seconds: float = Field(5.0, gt=0, le=3600, allow_inf_nan=False,
                                      description="how long an idle connection stays open")
    max_body_bytes: int = Field(1024 * 1024, ge=1024, description="largest request body")
    max_connections: int = Field(4096, ge=1, description="open connections per server process")
    shutdown_grace_seconds: float = Field(30.0, gt=0, le=3600, allow_inf_nan=False,
                                          description="on SIGTERM, how long requests in flight "
                                                      "get to finish before they are cut off")

    # Notices by e-mail (engine/notices/outbox.py): the worker sends them through this server.
    smtp_host: str | None = Field(None, min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:\[\]-]+$",
                                  description="the SMTP server notices are sent through (unset: "
                                              "none is sent; they wait in the outbox)")
    smtp_port: int = Field(DEFAULT_PORT, ge=1, le=65535, description="its port")
    smtp_user: str | None = Field(None, min_length=1, max_length=254,
                                  description="the name to log in with (unset: no login)")
    smtp_password: SecretStr | None = Field(None, description="the password to log in with")
    smtp_starttls: bool = Field(False, description="switch to TLS (STARTTLS) before logging in, "
                                                   "checking the server's certificate")
    smtp_from: str = Field(DEFAULT_SENDER, min_length=3, max_length=254,
                           description="the sender's address (From, and the Message-ID's domain)")
    smtp_timeout: float = Field(DEFAULT_TIMEOUT, gt=0, le=300, allow_inf_nan=False,
                                description="seconds one network operation with the server may take")
    notice_attempts: int = Field(DEFAULT_ATTEMPTS, ge=1, le=100,
                                 description="attempts at sending a notice before it is marked "
                                             "failed (back-off 1 min doubling, at most 1 h)")

    @field_validator("smtp_from")
    @classmethod
    def _sender(cls, value: str) -> str:
        """One plain address (it goes into a header and the SMTP envelope)."""
        try:
            return check_address(value)
        except InvalidInput:
            raise ValueError("expected one e-mail address like okno@example.by") from None

    @field_validator("trusted_proxies", "metrics_networks", mode="before")
    @classmethod
    def _proxies(cls, value: Any) -> Any:
        """`10.0.0.5, 192.168.0.0/24` (the environment's form) -> networks; no host bits, no `*`."""
        if isinstance(value, str):
            value = [item for item in value.replace(",", " ").split() if item]
        if isinstance(value, list | tuple):
            return tuple(ip_network(item, strict=True) if isinstance(item, str) else item
                         for item in value)
        return value

    def __init__(self, **values: Any) -> None:
        """Read the environment; `values` (e.g. a CLI option) win over it."""
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError(describe(exc)) from None

    def audit_ledger(self) -> Ledger:
        """The audit keys (the file is created if neither the key nor the file exists) and the
        checkpoint folder."""
        key = self.audit_key.get_secret_value() if self.audit_key is not None else None
        return Ledger(load_keyring(key, self.audit_key_file), self.audit_checkpoints)

    def smtp(self) -> SmtpConfig | None:
        """Where the worker sends notices; None when no SMTP server is configured."""
        if self.smtp_host is None:
            return None
        password = self.smtp_password.get_secret_value() if self.smtp_password is not None else None
        return SmtpConfig(host=self.smtp_host, port=self.smtp_port, sender=self.smtp_from,
                          user=self.smtp_user, password=password, starttls=self.smtp_starttls,
                          timeout=self.smtp_timeout)

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
        secret = field in ("secret_key", "audit_key", "smtp_password")
        shown = "" if secret else f"={error.get('input')!r}"
        lines.append(f"{variable(field)}{shown}: {error['msg']}")
    return "invalid setting: " + "; ".join(lines)
