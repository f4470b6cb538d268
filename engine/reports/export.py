"""A report as a table: CSV (UTF-8 with a BOM, so spreadsheet programs read Cyrillic right) and
XLSX (one sheet per kind of case).

Both hold the same rows, `(section, figure, item, value)`: `section` is «Обращения» or
«Административные процедуры», `figure` a figure's Russian name, `item` the channel, kind, topic,
procedure or ground a breakdown row is for (empty for a total), `value` a count or a share in
per cent. Every text that could start a spreadsheet formula (`=`, `+`, `-`, `@`) is written as
text: ids come from definitions and the catalog, never from citizens, but a file is opened
elsewhere.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

HEADER = ("раздел", "показатель", "позиция", "значение")
APPEALS, PROCEDURES = "Обращения", "Административные процедуры"

# (key in the figures, Russian name, what it is: count | share | breakdown key | average)
_APPEAL_ROWS: tuple[tuple[str, str, str], ...] = (
    ("received", "Поступило обращений", "count"),
    ("by_channel", "Поступило по способу подачи", "channel"),
    ("by_kind", "Поступило по виду", "kind"),
    ("by_topic", "Поступило по тематике", "topic"),
    ("answered", "Рассмотрено по существу", "count"),
    ("answered_on_time", "Рассмотрено в срок", "count"),
    ("on_time_share", "Рассмотрено в срок, %", "share"),
    ("overdue", "Просрочено (не рассмотрено, срок истек)", "count"),
    ("repeated", "Повторных", "count"),
    ("repeated_share", "Повторных, %", "share"),
    ("satisfied", "Удовлетворено", "count"),
    ("satisfied_share", "Удовлетворено, % рассмотренных", "share"),
    ("left_without_consideration", "Оставлено без рассмотрения по существу", "count"),
    ("left_by_ground", "Оставлено без рассмотрения по основанию", "ground"),
    ("withdrawn", "Отозвано", "count"),
    ("ratings", "Оценок качества", "count"),
    ("average_rating", "Средняя оценка (1–5)", "average"),
)
_PROCEDURE_ROWS: tuple[tuple[str, str, str], ...] = (
    ("received", "Поступило заявлений", "count"),
    ("by_channel", "Поступило по способу подачи", "channel"),
    ("by_procedure", "Поступило по процедуре", "number"),
    ("decided", "Принято решений", "count"),
    ("decided_on_time", "Решений в срок", "count"),
    ("on_time_share", "Решений в срок, %", "share"),
    ("overdue", "Просрочено (не завершено, срок истек)", "count"),
    ("refused", "Отказов", "count"),
    ("refusals_by_ground", "Отказов по основанию", "ground"),
    ("not_accepted", "Отказано в принятии заявления", "count"),
    ("withdrawn", "Отозвано", "count"),
    ("ratings", "Оценок качества", "count"),
    ("average_rating", "Средняя оценка (1–5)", "average"),
)


def rows(report: dict[str, Any]) -> Iterator[tuple[str, str, str, Any]]:
    """The report's rows `(section, figure, item, value)`; a share is in per cent (one decimal),
    a figure without a value (a share of nothing, repeated appeals not counted) is empty."""
    for section, key, spec in ((APPEALS, "appeals", _APPEAL_ROWS),
                               (PROCEDURES, "procedures", _PROCEDURE_ROWS)):
        figures = report[key]
        for name, title, kind in spec:
            value = figures[name]
            if kind in ("count", "average"):
                yield section, title, "", value
            elif kind == "share":
                yield section, title, "", None if value is None else round(value * 100, 1)
            else:
                for item in value:
                    yield section, title, str(item[kind] if item[kind] is not None else "—"), \
                        item["count"]


def as_csv(report: dict[str, Any]) -> bytes:
    """The report as CSV (a title line of the authority and period, the header, the rows)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_safe(report["name"]), f"{report['from']} — {report['to']}"])
    writer.writerow(HEADER)
    for section, title, item, value in rows(report):
        writer.writerow([section, title, _safe(item), "" if value is None else value])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def as_xlsx(report: dict[str, Any]) -> bytes:
    """The report as a workbook: a sheet per section, the title row, the header, the rows."""
    from openpyxl import Workbook  # loaded only when a workbook is asked for (start-up cost)
    from openpyxl.styles import Font

    wb = Workbook()
    sheets = {APPEALS: wb.active, PROCEDURES: wb.create_sheet()}
    bold = Font(bold=True)
    for title, ws in sheets.items():
        ws.title = title[:31]
        ws.append([report["name"], f"{report['from']} — {report['to']}"])
        ws.append(list(HEADER[1:]))
        for cell in (*ws[1], *ws[2]):
            cell.font = bold
        ws.column_dimensions["A"].width = 48
        ws.column_dimensions["B"].width = 32
        ws.column_dimensions["C"].width = 12
    for section, title, item, value in rows(report):
        ws = sheets[section]
        ws.append([title, item, value])
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula
    sheets[APPEALS].cell(1, 1).data_type = "s"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _safe(text: str) -> str:
    """Text a spreadsheet will not read as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
