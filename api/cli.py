"""The `okno` command line: one typer app; each command is a thin call into `engine`.

A command that needs settings reads them once (`_settings`: the environment, `OKNO_*`, with its
own options winning) and passes them down; a setting okno cannot use ends the command with exit
2 and a message naming its variable. Imports are inside the commands so `okno due` does not pay
for FastAPI.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from engine.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="okno: one-window procedures engine")
DATABASE_HELP = "Database URL (default: OKNO_DATABASE_URL, else sqlite:///var/okno.db)."


def _settings(**overrides: Any) -> Settings:
    """The settings from the environment, with the options given (not None) winning; exit 2 on a
    value okno cannot use."""
    from engine.settings import Settings, SettingsError

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None


def _connect(database: str | None):
    """The database of `--database` or the `database_url` setting."""
    from engine.store.connect import connect

    return connect(_settings(database_url=database).database_url)


@app.command("due")
def due(
    start: str = typer.Argument(..., metavar="DATE", help="Starting event date, ISO (2025-06-18)."),
    term: str = typer.Argument(..., metavar="TERM", help="'15 days', '5 working days', 'P1M'."),
) -> None:
    """Print the legal due date (ISO) of TERM counted from DATE on the Belarusian calendar."""
    from datetime import date

    from engine.terms import default_calendar, due_date

    settings = _settings()
    try:
        day = date.fromisoformat(start.strip())
    except ValueError:
        typer.echo(f"error: invalid date {start!r} (expected YYYY-MM-DD)", err=True)
        raise typer.Exit(code=2) from None
    try:
        calendar = default_calendar(settings.calendar_overrides)
        last = due_date(day, term, calendar)
    except ValueError as exc:  # TermError, CalendarError
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(last.isoformat())
    unknown = calendar.unknown_years(day, last)
    if unknown:
        typer.echo(_provisional_warning(unknown, calendar), err=True)


def _provisional_warning(years: tuple[int, ...], calendar: Any) -> str:
    listed = ", ".join(map(str, years))
    return (f"warning: provisional: the working-day transfers of {listed} are not known yet "
            f"(known through {calendar.transfers_known_through}); add them to "
            f"{calendar.overrides_path} (non_working, working, decided_years; docs/terms.md)")


@app.command("calendar")
def calendar_command(
    year: int = typer.Argument(..., metavar="YEAR", help="The year, e.g. 2026."),
) -> None:
    """Print YEAR's non-working weekdays and the weekend days worked instead (transfers)."""
    from engine.terms import default_calendar

    calendar = default_calendar(_settings().calendar_overrides)
    try:
        days = calendar.year_days(year)
    except ValueError as exc:  # CalendarError
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"# {year}: non-working days (holidays and days off moved from a weekend)")
    for day, name in days["non_working"]:
        typer.echo(f"{day.isoformat()}  non-working  {name}".rstrip())
    typer.echo(f"# {year}: weekend days that are working days (transfers)")
    for day, name in days["working"]:
        typer.echo(f"{day.isoformat()}  working      {name}".rstrip())
    if not calendar.is_known_year(year):
        typer.echo(_provisional_warning((year,), calendar), err=True)


@app.command("validate")
def validate(
    paths: list[str] = typer.Argument(None, metavar="[PATH]...", help="Files or folders (default: procedures/)."),
    authorities: str = typer.Option(None, "--authorities", help="Authorities folder (default: "
                                    "authorities/ when no PATH is given and it exists)."),
    base_units: str = typer.Option(None, "--base-units", help="Base unit values file (default: "
                                   "base_units.yaml when no PATH is given and it exists)."),
) -> None:
    """Validate procedure definitions, the authorities catalog and the base unit values; print
    each problem as path:line:column: message (exit 1), each warning as
    path:line:column: warning: message (exit 0)."""
    from pathlib import Path

    from engine.authorities.validation import check_authorities
    from engine.definition.data_file import read_file
    from engine.definition.validation import Problem, definition_files, validate_paths
    from engine.money import check_base_units

    defaults = not paths
    paths = paths or ["procedures"]
    if defaults and authorities is None and Path("authorities").is_dir():
        authorities = "authorities"
    if defaults and base_units is None and Path("base_units.yaml").is_file():
        base_units = "base_units.yaml"
    procedures, problems = validate_paths(paths)
    files = len(definition_files(paths))
    summary = [f"{len(procedures)} procedure(s) valid"]
    if files == 0 and not problems:
        typer.echo(f"no procedure definitions (*.yaml) found in {' '.join(paths)}")
        raise typer.Exit(code=1)
    # Every definition cites its source (docs/authoring.md, "The source block"): a missing one
    # is reported, not refused, so that a draft can be validated before its source is found.
    warnings = [Problem(p.source, 1, 1, "no source block: cite the act (or the page reproducing "
                        "it), its edition and the day you checked it") for p in procedures
                if p.citation is None]
    if authorities is not None:
        folder = Path(authorities)
        if not folder.is_dir():
            problems.append(Problem(str(folder), 1, 1, "no such folder"))
        else:
            checked = check_authorities([folder], {p.number for p in procedures})
            problems += checked.problems
            warnings += checked.warnings
            files += checked.files
            summary.append(f"{len(checked.authorities)} authority(-ies) valid")
    if base_units is not None:
        raw, found = read_file(Path(base_units), Path(base_units).resolve().parent)
        if raw is not None:
            units, found = check_base_units(raw, base_units)
            if units is not None:
                summary.append(f"{len(units.values)} base unit value(s) valid")
        problems += found
        files += 1
    for problem in sorted(problems):
        typer.echo(str(problem))
    for warning in warnings:
        typer.echo(f"{warning.path}:{warning.line}:{warning.column}: warning: {warning.message}")
    if problems:
        bad = len({p.path for p in problems})
        typer.echo(f"{len(problems)} problem(s) in {bad} of {files} file(s)")
        raise typer.Exit(code=1)
    typer.echo(", ".join(summary) + (f"; {len(warnings)} warning(s)" if warnings else ""))


@app.command("diff")
def diff_command(
    old: str = typer.Argument(..., metavar="OLD", help="Catalog folder, or git:REV (procedures/ at REV)."),
    new: str = typer.Argument(..., metavar="NEW", help="Catalog folder, or git:REV."),
    fmt: str = typer.Option("table", "--format", "-f", help="table|markdown|json|html|xlsx|csv."),
    output: str = typer.Option(None, "--output", "-o", help="Write the report to FILE."),
    fail_on: str = typer.Option("none", "--fail-on", help="Exit 1 on: burden|any|none."),
    repo: str = typer.Option(None, "--repo", help="Git repository for git:REV (default: current)."),
) -> None:
    """Inventory review: what changed between two catalogs, burden vs simplification (docs/diff.md)."""
    import os
    from pathlib import Path

    from engine.definition.validation import CatalogError
    from engine.diff.pairing import diff_catalogs
    from engine.diff.reports import BINARY_FORMATS, FORMATS, render
    from engine.diff.sides import load_side
    from engine.terms import default_calendar

    calendar = default_calendar(_settings().calendar_overrides)
    checks = ((fmt, FORMATS, "--format"), (fail_on, ("burden", "any", "none"), "--fail-on"))
    for value, allowed, name in checks:
        if value not in allowed:
            typer.echo(f"error: {name} must be one of {', '.join(allowed)}, not {value!r}", err=True)
            raise typer.Exit(code=2)
    sides = []
    for label, spec in (("OLD", old), ("NEW", new)):
        try:
            sides.append(load_side(spec, repo=repo))
        except (CatalogError, ValueError) as exc:
            typer.echo(f"error: cannot load {label} side {spec}:\n{exc}", err=True)
            raise typer.Exit(code=2) from None
    diff = diff_catalogs(sides[0], sides[1], old_label=old, new_label=new, calendar=calendar)
    tty = sys.stdout.isatty()
    if output:
        Path(output).write_bytes(render(diff, fmt))
        typer.echo(f"{output}: {len(diff.changes)} change(s), {diff.summary['burden']} burden", err=True)
    elif fmt in BINARY_FORMATS and tty:
        typer.echo(f"error: --format {fmt} needs --output FILE on a terminal", err=True)
        raise typer.Exit(code=2)
    else:
        color = tty and fmt == "table" and "NO_COLOR" not in os.environ
        typer.echo(render(diff, fmt, color=color), nl=False)
    if (fail_on == "burden" and diff.has_burden) or (fail_on == "any" and diff.changes):
        raise typer.Exit(code=1)


@app.command("publish")
def publish_command(
    source: str = typer.Argument("procedures", metavar="[PATH | git:REV]",
                                 help="A definition file or folder (default: procedures/), or "
                                      "git:REV (procedures/ at REV)."),
    confirm_burden: list[str] = typer.Option(None, "--confirm-burden", metavar="NUMBER",
                                             help="Confirm the burden increases of a procedure."),
    actor: str = typer.Option(None, "--actor", help="Who publishes (default: cli:$USER)."),
    database: str = typer.Option(None, "--database", help="Database URL (default: the setting)."),
    repo: str = typer.Option(None, "--repo", help="Git repository for git:REV (default: current)."),
) -> None:
    """Publish changed definitions to a running system without a restart (docs/operations.md):
    invalid files print path:line:column: message, unconfirmed burden increases are listed;
    both exit 1 with the database unchanged."""
    import getpass

    from engine.clock import SystemClock
    from engine.definition.validation import CatalogError
    from engine.diff.sides import load_side
    from engine.publication.publish import BurdensUnconfirmed, publish
    from engine.store.versions import Versions

    try:
        procedures = load_side(source, repo=repo)
    except CatalogError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(code=1) from None
    except ValueError as exc:
        typer.echo(f"{source}:1:1: {exc}", err=True)
        raise typer.Exit(code=1) from None
    if not procedures:
        typer.echo(f"{source}:1:1: no procedure definitions found", err=True)
        raise typer.Exit(code=1)
    settings = _settings(database_url=database)
    ledger = _ledger(settings)  # the publication is an event of the audit log, keyed like a step
    versions = Versions(_connect(database), SystemClock(settings.timezone))
    try:
        done = publish(versions, procedures.values(), actor=actor or f"cli:{getpass.getuser()}",
                       confirm_burdens=confirm_burden or (), writer=ledger.writer)
    except BurdensUnconfirmed as exc:
        for change in exc.changes:
            typer.echo(f"burden: {change.number}: {change.message}", err=True)
        typer.echo(f"error: {exc.detail}; confirm with --confirm-burden NUMBER", err=True)
        raise typer.Exit(code=1) from None
    if done.id is None:
        typer.echo("nothing to publish: every definition is already current")
        return
    typer.echo(f"publication {done.id}: " + ", ".join(f"{n} {v[:12]}" for n, v in done.versions.items()))


@app.command("bpmn")
def bpmn_command(
    number: str = typer.Argument(..., metavar="NUMBER", help="Procedure number, e.g. 6.1.1."),
    catalog: str = typer.Option("procedures", "--catalog", help="Catalog folder."),
) -> None:
    """Print the BPMN 2.0 XML of procedure NUMBER: compiled from its steps, or its drawn file."""
    from engine.bpmn.xml import BpmnError
    from engine.definition.validation import CatalogError, load_catalog
    from engine.process.compile import bpmn_text

    try:
        procedures = load_catalog(catalog)
    except CatalogError as exc:
        typer.echo(f"error: the catalog {catalog} is invalid:\n{exc}", err=True)
        raise typer.Exit(code=1) from None
    if number not in procedures:
        typer.echo(f"error: no procedure {number} in {catalog}", err=True)
        raise typer.Exit(code=2)
    try:
        typer.echo(bpmn_text(procedures[number]), nl=False)
    except BpmnError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None


audit_app = typer.Typer(no_args_is_help=True, help="Audit trail commands.")
app.add_typer(audit_app, name="audit")


def _ledger(settings: Settings):
    """The audit ledger of the settings; exit 2 if its keys cannot be used."""
    from engine.audit.keys import AuditKeyError

    try:
        return settings.audit_ledger()
    except (AuditKeyError, OSError) as exc:
        typer.echo(f"error: audit key: {exc}", err=True)
        raise typer.Exit(code=2) from None


@audit_app.command("verify")
def audit_verify(
    case: str = typer.Option(None, "--case", help="Check one case only."),
    database: str = typer.Option(None, "--database", help=DATABASE_HELP),
    checkpoints: str = typer.Option(None, "--checkpoints",
                                    help="Checkpoint folder (default: OKNO_AUDIT_CHECKPOINTS)."),
) -> None:
    """Check every case's keyed chain and recompute its facts from its events, and the whole log
    against its signed checkpoints; one line per problem (exit 1)."""
    from engine.store.connect import connect

    settings = _settings(database_url=database, audit_checkpoints=checkpoints)
    ledger = _ledger(settings)
    report = ledger.verify(connect(settings.database_url), case)
    for item in report.breaks:
        typer.echo(str(item))
    if case is None:
        newest = report.log.get("newest")
        if ledger.checkpoints is not None and newest is None:
            typer.echo(f"note: no checkpoint in {ledger.checkpoints}: a deleted case or a truncated "
                       "log cannot be detected (run `okno worker` or `okno audit checkpoint`)")
        elif newest is not None:
            typer.echo(f"log: {report.log['events']} event(s), {report.log['checkpoints']} "
                       f"checkpoint(s), the newest of {newest.at} covers {newest.size}")
    if report.unsealed:
        typer.echo(f"note: {report.unsealed} case(s) begun before migration 0009 are not sealed "
                   "yet: their facts are not recomputed (the next checkpoint seals them)")
    typer.echo(f"{report.checked} case(s) checked, {len(report.breaks)} problem(s)")
    if report.breaks:
        raise typer.Exit(code=1)


@audit_app.command("checkpoint")
def audit_checkpoint(
    database: str = typer.Option(None, "--database", help=DATABASE_HELP),
    checkpoints: str = typer.Option(None, "--checkpoints",
                                    help="Checkpoint folder (default: OKNO_AUDIT_CHECKPOINTS)."),
) -> None:
    """Sign the audit log's head (size, Merkle root) into the checkpoint folder, as every sweep
    of the worker does; seals cases begun before migration 0009."""
    from datetime import UTC, datetime

    from engine.store.connect import connect

    settings = _settings(database_url=database, audit_checkpoints=checkpoints)
    ledger = _ledger(settings)
    written = ledger.checkpoint(connect(settings.database_url), datetime.now(UTC))
    if written is None:
        typer.echo("the log has not grown since the last checkpoint: nothing written")
    else:
        typer.echo(f"checkpoint: {written.size} event(s), root {written.root}, in {ledger.checkpoints}")


@audit_app.command("new-key")
def audit_new_key() -> None:
    """Add a new audit key to OKNO_AUDIT_KEY_FILE (newest last: it keys new events; the old ones
    still verify theirs). Restart the server and the worker afterwards."""
    from engine.audit.keys import AuditKeyError, add_key

    settings = _settings()
    if settings.audit_key is not None:
        typer.echo("error: OKNO_AUDIT_KEY is set: add the new key there (newest last)", err=True)
        raise typer.Exit(code=2)
    try:
        key = add_key(settings.audit_key_file)
    except (AuditKeyError, OSError) as exc:
        typer.echo(f"error: audit key: {exc}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"new audit key {key.id} added to {settings.audit_key_file}")


@app.command("worker")
def worker(
    interval: float = typer.Option(30.0, help="Seconds between sweeps."),
    once: bool = typer.Option(False, "--once", help="Run one sweep and exit."),
    database: str = typer.Option(None, "--database", help=DATABASE_HELP),
) -> None:
    """Fire due timers, mark overdue cases, checkpoint the audit log and send the notices due
    (OKNO_SMTP_*), forever (or --once). SIGTERM or SIGINT: the round in progress finishes, then
    exit 0."""
    import logging

    from engine.clock import SystemClock
    from engine.notices.outbox import Outbox
    from engine.runtime.commands import Cases
    from engine.runtime.scheduler import run_worker, stop_on_signals, sweep
    from engine.store.connect import connect
    from engine.store.versions import Versions
    from engine.terms import default_calendar

    settings = _settings(database_url=database)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    db = connect(settings.database_url)
    cases = Cases(db, Versions(db, SystemClock(settings.timezone)),
                  calendar=default_calendar(settings.calendar_overrides), ledger=_ledger(settings))
    outbox = Outbox(db, settings.smtp(), attempts=settings.notice_attempts)
    if once:
        fired, marked = sweep(cases, settings.idempotency_retention, outbox=outbox)
        typer.echo(f"fired {fired} timer(s), marked {marked} case(s) overdue")
        return
    run_worker(cases, interval, stop_on_signals(), retention=settings.idempotency_retention,
               outbox=outbox)


cases_app = typer.Typer(no_args_is_help=True, help="Commands on running cases.")
app.add_typer(cases_app, name="cases")


@cases_app.command("migrate")
def cases_migrate(
    procedure: str = typer.Option(..., "--procedure", help="Procedure number, e.g. 2.1."),
    to: str = typer.Option(..., "--to", metavar="VERSION",
                           help="A stored version: its hash, a prefix of 6+ characters, or 'current'."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check only: move nothing."),
    actor: str = typer.Option("system:cli", "--actor", help="Who the audit events name."),
    database: str = typer.Option(None, "--database", help=DATABASE_HELP),
) -> None:
    """Move the running cases of a procedure to another of its versions: one line per case,
    movable (dry run), moved or blocked with the reasons; the blocked ones are left as they are.
    Exit 0 if every case moved (or on a dry run), 1 if some are blocked, 2 on a bad option."""
    from engine.clock import SystemClock
    from engine.errors import OknoError
    from engine.runtime.commands import Cases
    from engine.store.connect import connect
    from engine.store.versions import Versions
    from engine.terms import default_calendar

    settings = _settings(database_url=database)
    db = connect(settings.database_url)
    cases = Cases(db, Versions(db, SystemClock(settings.timezone)),
                  calendar=default_calendar(settings.calendar_overrides), ledger=_ledger(settings))
    try:
        verdicts = cases.migrate_procedure(procedure, to, actor=actor, dry_run=dry_run)
    except OknoError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    for v in verdicts:
        state = "moved" if v.moved else "movable" if v.movable else "blocked"
        typer.echo(f"{v.reg_number or v.case_id} {v.from_version[:12]} -> {v.to_version[:12]}: {state}")
        for reason in v.reasons:
            typer.echo(f"  {reason.code}: {reason.text}")
    blocked = sum(not v.movable for v in verdicts)
    typer.echo(f"{len(verdicts)} running case(s) on other versions: {len(verdicts) - blocked} "
               f"{'movable' if dry_run else 'moved'}, {blocked} blocked")
    if blocked and not dry_run:
        raise typer.Exit(code=1)


@app.command("serve")
def serve_command(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="Server processes; how they share the port is --balancer."),
    database: str = typer.Option(None, "--database", help=DATABASE_HELP),
    catalog: str = typer.Option(None, "--catalog",
                                help="Catalog folder (default: OKNO_CATALOG, else procedures/)."),
    access_log: bool = typer.Option(False, "--access-log", help="Log every request."),
    balancer: str = typer.Option("reuseport", help="With --workers > 1: reuseport or gunicorn."),
) -> None:
    """Serve the HTTP API (docs at /docs). The scheduler runs separately: `okno worker`."""
    from api.serve import serve

    status = serve(_settings(database_url=database, catalog=catalog), host, port, workers,
                   access_log, balancer)
    if status:
        raise typer.Exit(code=status)


@app.command("run")
def run_command(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Demo: publish the catalog, create demo users (DEMO ONLY), run the worker loop and serve."""
    from api.serve import run_demo

    run_demo(_settings(), host, port)


db_app = typer.Typer(no_args_is_help=True, help="The database: schema upgrades, backups, restores.")
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(
    database: str = typer.Option(None, "--database", help=DATABASE_HELP),
) -> None:
    """Create the schema of a new database, or migrate an existing one to the newest (Alembic);
    does nothing on a database at the newest already. `okno serve`, `okno worker` and `okno run`
    do the same when they start."""
    from engine.store.connect import connect, schema_revision, upgrade_schema

    engine = connect(_settings(database_url=database).database_url, create=False)
    try:
        before = schema_revision(engine)
        upgrade_schema(engine)
        after = schema_revision(engine)
    finally:
        engine.dispose()
    typer.echo(f"database at revision {after}" if before == after
               else f"database upgraded from {before or 'nothing'} to revision {after}")


@db_app.command("backup")
def db_backup(
    file: str = typer.Argument(..., metavar="FILE", help="The backup file to write (0600)."),
    database: str = typer.Option(None, "--database", help=DATABASE_HELP),
    force: bool = typer.Option(False, "--force", help="Replace FILE if it exists."),
) -> None:
    """Back the database up to FILE while okno runs: SQLite's online backup API, or pg_dump's
    custom format on PostgreSQL."""
    from pathlib import Path

    from engine.store.backup import BackupError, backup

    url = _settings(database_url=database).database_url
    try:
        backup(url, Path(file), force=force)
    except (BackupError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"backup written to {file}")


@db_app.command("restore")
def db_restore(
    file: str = typer.Argument(..., metavar="FILE", help="A file `okno db backup` wrote."),
    database: str = typer.Option(None, "--database", help=DATABASE_HELP),
    force: bool = typer.Option(False, "--force", help="Replace what the database holds."),
) -> None:
    """Restore the database from FILE (stop the server and the worker first). Refuses a database
    that holds rows unless --force; run `okno db upgrade` afterwards for a backup of an older okno."""
    from pathlib import Path

    from engine.store.backup import BackupError, restore

    url = _settings(database_url=database).database_url
    try:
        restore(url, Path(file), force=force)
    except (BackupError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"database restored from {file}")


user_app = typer.Typer(no_args_is_help=True, help="User accounts of the HTTP API.")
app.add_typer(user_app, name="user")


@user_app.command("add")
def user_add(
    name: str = typer.Argument(..., help="User name (unique, no spaces)."),
    role: str = typer.Option(..., help="analyst, clerk, supervisor, applicant or auditor."),
    org: str = typer.Option(..., help="Organisation: an authority id of the catalog (e.g. "
                            "minsk-sovetsky); applicants: citizens."),
    database: str = typer.Option(None, "--database", help=DATABASE_HELP),
) -> None:
    """Add a user; the password is read from stdin (asked twice on a terminal)."""
    from engine import accounts
    from engine.errors import OknoError

    settings = _settings(database_url=database)
    try:
        _member_check(settings, role, org)
        db = _connect(database)
        password = read_password(prompt=True)
        accounts.add_user(db, name, password, role, org)
    except (OknoError, ValueError) as exc:
        raise _user_error(exc) from None
    typer.echo(f"user {name} added ({role}, {org})")


@user_app.command("list")
def user_list(
    database: str = typer.Option(None, "--database", help=DATABASE_HELP),
) -> None:
    """List users: name, role, organisation, and 'disabled' for a disabled account."""
    from engine import accounts

    for user in accounts.list_users(_connect(database)):
        typer.echo(f"{user.name}\t{user.role}\t{user.org}" + ("\tdisabled" if user.disabled else ""))


notices_app = typer.Typer(no_args_is_help=True, help="Notices and their delivery (the outbox).")
app.add_typer(notices_app, name="notices")


@notices_app.command("list")
def notices_list(
    failed: bool = typer.Option(False, "--failed", help="Only the notices that failed for good."),
    status: str = typer.Option(None, "--status", help="Only this status: pending, sending, sent, "
                                                      "failed."),
    limit: int = typer.Option(50, min=1, max=200, help="At most this many rows."),
    database: str = typer.Option(None, "--database", help=DATABASE_HELP),
) -> None:
    """The outbox: how many notices are in each status, then the rows asked for (by default the
    ones that need attention: failed, or waiting after a failed attempt), tab-separated."""
    from engine.read.notices import outbox_counts, outbox_rows
    from engine.statuses import OutboxStatus

    if failed:
        status = OutboxStatus.FAILED.value
    if status is not None and status not in set(OutboxStatus):
        typer.echo(f"error: --status must be one of {', '.join(OutboxStatus)}, not {status!r}",
                   err=True)
        raise typer.Exit(code=2)
    db = _connect(database)
    n = outbox_counts(db)
    typer.echo(f"outbox: {n['pending']} pending ({n['retrying']} after a failed attempt), "
               f"{n['sending']} sending, {n['sent']} sent, {n['failed']} failed")
    rows = outbox_rows(db, status=status, errors_only=status is None, limit=limit)
    for row in rows:
        when = row["sent_at"] if row["status"] == OutboxStatus.SENT else row["next_attempt_at"]
        typer.echo("\t".join(str(v) for v in (
            row["notice_id"], row["status"], f"attempts {row['attempts']}", row["address"],
            when.isoformat(sep=" ", timespec="seconds"), row["reg_number"] or row["case_id"],
            " ".join((row["last_error"] or "-").split()))))


@notices_app.command("retry")
def notices_retry(
    notice_id: str = typer.Argument(..., metavar="ID", help="The notice's id (okno notices list)."),
    database: str = typer.Option(None, "--database", help=DATABASE_HELP),
) -> None:
    """Send a failed notice again: a fresh set of attempts, the first at the next sweep."""
    from datetime import UTC, datetime

    from engine.errors import OknoError
    from engine.notices.outbox import retry

    try:
        retry(_connect(database), notice_id, datetime.now(UTC))
    except OknoError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"notice {notice_id} will be sent at the worker's next sweep")


def _member_check(settings: Settings, role: str, org: str) -> None:
    """Staff, auditors and analysts belong to an authority of the catalog (OKNO_AUTHORITIES);
    applicants to the reserved organisation `citizens`. InvalidInput otherwise."""
    from engine.authorities.validation import load_authorities
    from engine.definition.validation import CatalogError
    from engine.errors import InvalidInput

    try:
        catalog = load_authorities(settings.authorities)
    except CatalogError as exc:
        raise InvalidInput(f"the authorities catalog {settings.authorities} is invalid:\n{exc}",
                           field="org") from None
    catalog.check_member(role, org.strip())


def _user_error(exc: Exception) -> typer.Exit:
    """Report a refused account command (unknown user, empty password) on stderr; exit 2, like
    every command given input it cannot act on (exit 1 means "ran and found problems")."""
    typer.echo(f"error: {getattr(exc, 'detail', exc)}", err=True)
    return typer.Exit(code=2)


@user_app.command("disable")
def user_disable(
    name: str = typer.Argument(..., help="User name."),
    database: str = typer.Option(None, "--database", help=DATABASE_HELP),
) -> None:
    """Disable a user: no sign-in, and the API refuses their tokens within
    OKNO_ACCOUNT_CACHE_SECONDS (default 5). Their tokens stay invalid after `user enable`."""
    from datetime import UTC, datetime

    from engine import accounts
    from engine.errors import OknoError

    db = _connect(database)
    try:
        changed = accounts.disable_user(db, name, datetime.now(UTC))
    except OknoError as exc:
        raise _user_error(exc) from None
    typer.echo(f"user {name} disabled" if changed else f"user {name} was disabled already")


@user_app.command("enable")
def user_enable(
    name: str = typer.Argument(..., help="User name."),
    database: str = typer.Option(None, "--database", help=DATABASE_HELP),
) -> None:
    """Enable a disabled user: they may sign in again."""
    from engine import accounts
    from engine.errors import OknoError

    db = _connect(database)
    try:
        changed = accounts.enable_user(db, name)
    except OknoError as exc:
        raise _user_error(exc) from None
    typer.echo(f"user {name} enabled" if changed else f"user {name} was not disabled")


@user_app.command("role")
def user_role(
    name: str = typer.Argument(..., help="User name."),
    role: str = typer.Option(..., help="analyst, clerk, supervisor, applicant or auditor."),
    org: str = typer.Option(..., help="Organisation: an authority id of the catalog (e.g. "
                            "minsk-sovetsky); applicants: citizens."),
    database: str = typer.Option(None, "--database", help=DATABASE_HELP),
) -> None:
    """Give a user another role and organisation; tokens naming the old ones are refused within
    OKNO_ACCOUNT_CACHE_SECONDS (default 5)."""
    from engine import accounts
    from engine.errors import NotFound, OknoError

    settings = _settings(database_url=database)
    db = _connect(database)
    try:
        if accounts.get_account(db, name) is None:  # say so before judging the organisation
            raise NotFound(f"no user {name!r}")
        _member_check(settings, role, org)
        accounts.set_role(db, name, role, org)
    except (OknoError, ValueError) as exc:
        raise _user_error(exc) from None
    typer.echo(f"user {name} is now {role} of {org}")


@user_app.command("password")
def user_password(
    name: str = typer.Argument(..., help="User name."),
    database: str = typer.Option(None, "--database", help=DATABASE_HELP),
) -> None:
    """Set a user's password, read from stdin (asked twice on a terminal); their older tokens
    are refused within OKNO_ACCOUNT_CACHE_SECONDS (default 5)."""
    from datetime import UTC, datetime

    from engine import accounts
    from engine.errors import NotFound, OknoError

    db = _connect(database)
    try:
        if accounts.get_account(db, name) is None:  # say so before asking for a password
            raise NotFound(f"no user {name!r}")
        password = read_password(prompt=True)
        accounts.set_password(db, name, password, datetime.now(UTC))
    except (OknoError, ValueError) as exc:
        raise _user_error(exc) from None
    typer.echo(f"password of user {name} changed")


def read_password(prompt: bool) -> str:
    """The new user's password: asked twice on a terminal, else the first line of stdin."""
    if prompt and sys.stdin.isatty():
        import getpass

        first = getpass.getpass("Password: ")
        if getpass.getpass("Repeat: ") != first:
            raise ValueError("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def main() -> None:
    app()
