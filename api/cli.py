"""The `okno` command line: one typer app; each command is a thin call into `engine`."""
from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="okno: one-window procedures engine")


@app.command("due")
def due(
    start: str = typer.Argument(..., metavar="DATE", help="Starting event date, ISO (2025-06-18)."),
    term: str = typer.Argument(..., metavar="TERM", help="'15 days', '5 working days', 'P1M'."),
) -> None:
    """Print the legal due date (ISO) of TERM counted from DATE on the Belarusian calendar."""
    from datetime import date

    from engine.terms import due_date

    try:
        day = date.fromisoformat(start.strip())
    except ValueError:
        typer.echo(f"error: invalid date {start!r} (expected YYYY-MM-DD)", err=True)
        raise typer.Exit(code=2) from None
    try:
        typer.echo(due_date(day, term).isoformat())
    except ValueError as exc:  # TermError, CalendarError
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None


@app.command("validate")
def validate(
    paths: list[str] = typer.Argument(None, metavar="[PATH]...", help="Files or folders (default: procedures/)."),
) -> None:
    """Validate procedure definitions; print each problem as path:line:column: message."""
    from engine.catalog import definition_files, validate_paths

    paths = paths or ["procedures"]
    procedures, problems = validate_paths(paths)
    for problem in problems:
        typer.echo(str(problem))
    files = len(definition_files(paths))
    if problems:
        bad = len({p.path for p in problems})
        typer.echo(f"{len(problems)} problem(s) in {bad} of {files} file(s)")
        raise typer.Exit(code=1)
    typer.echo(f"{len(procedures)} procedure(s) valid")


def main() -> None:
    app()
