"""Reports of a catalog diff: terminal table, Markdown, JSON, printable HTML, XLSX and CSV.

Every renderer takes a `engine.diff.CatalogDiff` and returns text (bytes for XLSX); `render`
returns the bytes of any format. No HTTP here: the API serves `engine.diff.diff_to_json`.
"""
from __future__ import annotations

import csv
import html
import io
from collections.abc import Callable
from typing import Any

import orjson

from engine.diff.model import BURDEN, CLASS_RU, CLASSES, SIMPLIFICATION, CatalogDiff, Change, diff_to_json
from engine.diff.wording import _plural

FORMATS = ("table", "markdown", "json", "html", "xlsx", "csv")
# Formats not meant for a terminal: the CLI wants --output for them when stdout is a tty.
BINARY_FORMATS = ("xlsx", "html")
# Columns of the CSV (the JSON keys) and of the spreadsheet (Russian headings), in order.
COLUMNS = ("old_number", "new_number", "procedure", "class", "kind", "path", "old", "new", "message")
COLUMNS_RU = ("Номер (было)", "Номер (стало)", "Процедура", "Класс", "Вид изменения", "Поле",
              "Было", "Стало", "Описание")

TITLE = "Инвентаризация административных процедур: сравнение каталогов"
_ANSI = {BURDEN: "\x1b[31m", SIMPLIFICATION: "\x1b[32m"}
_BOLD, _RESET = "\x1b[1m", "\x1b[0m"


def _number(change: Change) -> str:
    if change.old_number and change.new_number and change.old_number != change.new_number:
        return f"{change.old_number}→{change.new_number}"
    return change.number


def _procedures_ru(n: int) -> str:
    return f"{n} {_plural(n, 'процедура', 'процедуры', 'процедур')}"


def _summary_line(diff: CatalogDiff) -> str:
    s = diff.summary
    return ", ".join(f"{CLASS_RU[c]}: {s[c]}" for c in CLASSES)


def _status(changes: list[Change]) -> str:
    """What happened to the procedure as a whole, for group headings."""
    kinds = {c.kind for c in changes}
    first = changes[0]
    if "procedure.added" in kinds:
        return "новая процедура"
    if "procedure.removed" in kinds:
        return "процедура исключена"
    if "procedure.renumbered" in kinds:
        return f"перенумерована: {first.old_number} → {first.new_number}"
    return "изменена"


# --------------------------------------------------------------------------------------------------
# Terminal table and Markdown
# --------------------------------------------------------------------------------------------------

def render_table(diff: CatalogDiff, color: bool = False) -> str:
    """A plain-text table; with ``color`` burden lines are red and simplifications green."""
    def bold(text: str) -> str:
        return f"{_BOLD}{text}{_RESET}" if color else text

    lines = [
        bold(TITLE),
        f"Было:  {diff.old_label} ({_procedures_ru(diff.old_count)})",
        f"Стало: {diff.new_label} ({_procedures_ru(diff.new_count)})",
        f"Итого: {_summary_line(diff)}",
        "",
    ]
    if not diff.changes:
        lines.append("Изменений нет.")
        return "\n".join(lines) + "\n"
    header = ("№", "Класс", "Вид", "Изменение")
    rows = [(_number(c), CLASS_RU[c.class_], c.kind, c.message) for c in diff.changes]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]

    def line(row: tuple[str, ...]) -> str:
        return "  ".join([*(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)),
                          row[3]]).rstrip()

    lines.append(bold(line(header)))
    for change, row in zip(diff.changes, rows, strict=True):
        text = line(row)
        if color and change.class_ in _ANSI:
            text = f"{_ANSI[change.class_]}{text}{_RESET}"
        lines.append(text)
    return "\n".join(lines) + "\n"


def _md(text: Any) -> str:
    return html.escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


def render_markdown(diff: CatalogDiff) -> str:
    s = diff.summary
    out = [
        f"# {TITLE}",
        "",
        (f"Было: `{diff.old_label}` ({_procedures_ru(diff.old_count)}). "
         f"Стало: `{diff.new_label}` ({_procedures_ru(diff.new_count)})."),
        "",
        "| Класс | Изменений |",
        "|---|---:|",
        *(f"| {CLASS_RU[c]} | {s[c]} |" for c in CLASSES),
        "",
    ]
    if not diff.changes:
        out.append("Изменений нет.")
    for _key, changes in diff.by_procedure():
        first = changes[0]
        out += [f"## {_number(first)} — {_md(first.procedure)}", "", f"*{_status(changes)}*", "",
                "| Класс | Вид | Поле | Изменение |", "|---|---|---|---|"]
        for c in changes:
            cls = f"**{CLASS_RU[c.class_]}**" if c.class_ == BURDEN else CLASS_RU[c.class_]
            path = f"`{_md(c.path)}`" if c.path else ""
            out.append(f"| {cls} | `{c.kind}` | {path} | {_md(c.message)} |")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def render_json(diff: CatalogDiff) -> str:
    """The ``okno.diff/1`` document, indented, non-ASCII kept as is."""
    return orjson.dumps(diff_to_json(diff), option=orjson.OPT_INDENT_2).decode("utf-8") + "\n"


# --------------------------------------------------------------------------------------------------
# Printable HTML (the one-window stand style: black on white, at least 15 pt, bold headings)
# --------------------------------------------------------------------------------------------------

_CSS = """
html { background: #fff; }
body { color: #000; background: #fff; font-family: Arial, "Liberation Sans", Helvetica, sans-serif;
       font-size: 16pt; line-height: 1.35; margin: 1.5cm; }
h1 { font-size: 24pt; font-weight: bold; margin: 0 0 12pt; }
h2 { font-size: 19pt; font-weight: bold; margin: 24pt 0 6pt; border-bottom: 2pt solid #000;
     page-break-after: avoid; break-after: avoid; }
p, li, td, th { font-size: 15pt; }
table { border-collapse: collapse; width: 100%; margin: 6pt 0 12pt; }
th, td { border: 1pt solid #000; padding: 4pt 6pt; vertical-align: top; text-align: left; }
th { font-weight: bold; }
td.n { text-align: right; }
tr { page-break-inside: avoid; break-inside: avoid; }
tr.burden td { font-weight: bold; }
tr.burden td.cls { border-left: 6pt solid #000; }
.status { font-style: italic; margin: 0 0 6pt; }
code { font-family: "DejaVu Sans Mono", "Courier New", monospace; font-size: 15pt; }
@media print { body { margin: 0; } a { color: #000; text-decoration: none; } }
"""

_MARK = {BURDEN: "▲ ", SIMPLIFICATION: "▼ ", "neutral": ""}


def render_html(diff: CatalogDiff) -> str:
    """A self-contained printable page: summary first, then the changes grouped by procedure."""
    e = html.escape
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="ru"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(TITLE)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(TITLE)}</h1>",
        render_html_body(diff),
        "</body></html>",
    ]) + "\n"


def render_html_body(diff: CatalogDiff) -> str:
    """The report itself (sides, summary, the changes by procedure; headings from h2), for
    `render_html` and for a page that embeds it (the analyst's catalog)."""
    e = html.escape
    s = diff.summary
    parts = [
        (f"<p>Было: <b>{e(diff.old_label)}</b> ({_procedures_ru(diff.old_count)}). "
         f"Стало: <b>{e(diff.new_label)}</b> ({_procedures_ru(diff.new_count)}).</p>"),
        "<h2>Итого</h2>",
        '<table class="summary"><thead><tr><th>Класс изменения</th><th>Изменений</th></tr></thead><tbody>',
        *(f'<tr class="{c}"><td class="cls">{_MARK[c]}{e(CLASS_RU[c])}</td><td class="n">{s[c]}</td></tr>'
          for c in CLASSES),
        "</tbody></table>",
        ("<p>Обременение — то, что п. 2.3 Директивы № 2 не допускает: новые процедуры, увеличение "
         "сроков, новые документы, рост платы. Упрощение — обратное.</p>"),
    ]
    if not diff.changes:
        parts.append("<p><b>Изменений нет.</b></p>")
    for _key, changes in diff.by_procedure():
        first = changes[0]
        parts += [
            f"<section><h2>{e(_number(first))} — {e(first.procedure)}</h2>",
            f'<p class="status">{e(_status(changes))}</p>',
            "<table><thead><tr><th>Класс</th><th>Изменение</th><th>Поле</th></tr></thead><tbody>",
        ]
        for c in changes:
            parts.append(
                f'<tr class="{c.class_}"><td class="cls">{_MARK[c.class_]}{e(CLASS_RU[c.class_])}</td>'
                f"<td>{e(c.message)}</td><td><code>{e(c.path or c.kind)}</code></td></tr>")
        parts.append("</tbody></table></section>")
    return "\n".join(parts)


# --------------------------------------------------------------------------------------------------
# Spreadsheets
# --------------------------------------------------------------------------------------------------

def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _row(change: Change) -> list[Any]:
    d = change.to_dict()
    return [_cell(d[k]) for k in COLUMNS]


def _csv_safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def render_csv(diff: CatalogDiff) -> str:
    """One row per change, columns as in `COLUMNS` (the JSON keys), RFC 4180 quoting."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for change in diff.changes:
        writer.writerow(["" if v is None else _csv_safe(v) for v in _row(change)])
    return buf.getvalue()


def render_xlsx(diff: CatalogDiff) -> bytes:
    """A workbook: sheet «Изменения» (one row per change, filterable) and sheet «Итого»."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    wb = Workbook()
    ws = wb.active
    ws.title = "Изменения"
    bold = Font(bold=True)
    fills = {BURDEN: PatternFill("solid", fgColor="FFC7CE"),
             SIMPLIFICATION: PatternFill("solid", fgColor="C6EFCE")}
    ws.append(list(COLUMNS_RU))
    for cell in ws[1]:
        cell.font = bold
    class_col = COLUMNS.index("class")
    for change in diff.changes:
        values = _row(change)
        values[class_col] = CLASS_RU[change.class_]
        ws.append(values)
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text from a definition is never a formula
            cell.alignment = Alignment(vertical="top", wrap_text=True)
        if change.class_ in fills:
            ws.cell(ws.max_row, class_col + 1).fill = fills[change.class_]
            if change.class_ == BURDEN:
                ws.cell(ws.max_row, class_col + 1).font = bold
    for letter, width in zip("ABCDEFGHI", (12, 12, 50, 16, 28, 34, 24, 24, 70), strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:I{max(ws.max_row, 1)}"

    summary = wb.create_sheet("Итого")
    summary.append(["Было", diff.old_label, diff.old_count])
    summary.append(["Стало", diff.new_label, diff.new_count])
    summary.append([])
    summary.append(["Класс", "Изменений"])
    for c in CLASSES:
        summary.append([CLASS_RU[c], diff.summary[c]])
    for row in (1, 2, 4):
        summary.cell(row, 1).font = bold
    summary.cell(4, 2).font = bold
    summary.column_dimensions["A"].width = 18
    summary.column_dimensions["B"].width = 40
    for cell in (summary.cell(1, 2), summary.cell(2, 2)):
        if isinstance(cell.value, str) and cell.value.startswith("="):
            cell.data_type = "s"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


_TEXT: dict[str, Callable[[CatalogDiff], str]] = {
    "markdown": render_markdown, "json": render_json, "html": render_html,
}


def render(diff: CatalogDiff, fmt: str, *, color: bool = False) -> bytes:
    """The report in ``fmt`` (one of `FORMATS`) as bytes; CSV starts with a UTF-8 BOM so that
    spreadsheet programs read Cyrillic right."""
    if fmt == "table":
        return render_table(diff, color=color).encode("utf-8")
    if fmt == "xlsx":
        return render_xlsx(diff)
    if fmt == "csv":
        return render_csv(diff).encode("utf-8-sig")
    if fmt in _TEXT:
        return _TEXT[fmt](diff).encode("utf-8")
    raise ValueError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")


__all__ = ["BINARY_FORMATS", "COLUMNS", "FORMATS", "render", "render_csv", "render_html",
           "render_html_body",
           "render_json", "render_markdown", "render_table", "render_xlsx"]
