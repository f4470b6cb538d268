"""What the clerk's page routes share to run a command: the API's access checks, Russian texts
for refusals, and dates as a clerk reads them.

A page route authorises exactly like its JSON twin (api.access: the case is visible to the user,
the task's performer role fits) and calls the same `Cases` command; a refusal is shown on the
page in Russian (`command_error`), never as the engine's English detail.
"""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from api import access
from api.problems import ApiError
from engine.accounts import User
from engine.errors import Conflict, Forbidden, InvalidInput, NotAllowed, NotFound, OknoError
from engine.read import queries

STAFF = ("clerk", "supervisor")


def visible_case(svc: Any, user: User, case_id: str, task_id: str | None = None) -> dict:
    """The case's facts (and its task's) if `user` may see it: ApiError 404 otherwise."""
    return access.visible_case(user, queries.case_facts(svc.db, case_id, task_id), case_id)


def visible_task(svc: Any, user: User, case_id: str, task_id: str) -> dict:
    """The task's facts once `user` may see its case and perform it (ApiError 404 or 403)."""
    facts = visible_case(svc, user, case_id, task_id)
    access.may_perform(user, facts["task"], task_id)
    return facts["task"]


def may_claim(user: User, task: dict[str, Any]) -> bool:
    """Whether a claim button makes sense for `user` on this open task row."""
    return (task.get("state") == "open" and task.get("assignee") in (None, "")
            and (task.get("acts_as") != "supervisor" or user.role == "supervisor"))


_NOT_ALLOWED = (  # the engine's refusals a clerk meets on these pages, in Russian
    ("not waiting for a performer", "Задача уже выполнена или отменена."),
    ("the case has ended", "Дело уже завершено."),
    ("does not allow suspension", "Эта процедура не допускает приостановления."),
    ("only an open case can be suspended", "Приостановить можно только открытое дело."),
    ("not suspended", "Дело не приостановлено."),
    ("not listed for procedure", "Этот документ не предусмотрен процедурой (Директива № 2, "
                                 "п. 2.2): требовать его нельзя."),
    ("is presented by the citizen", "Этот документ представляет гражданин; запросить можно только "
                                    "документы, которые орган получает сам."),
    ("accepted already", "Заявление уже принято: отказать можно только решением по существу."),
    ("only an ended case can be closed", "Сдать в архив можно только завершённое дело."),
    ("no decision step is waiting", "Решение сейчас не ожидается."),
    ("no issue step is waiting", "Выдача результата сейчас не ожидается."),
    ("was extended by", "Срок уже продлён по этому основанию."),
    ("needs '", "Сначала продлите срок до одного месяца."),
    ("can be withdrawn only before", "Обращение можно отозвать только до его рассмотрения по существу."),
)


def command_error(exc: OknoError | ApiError) -> str:
    """A refused command as the clerk reads it (Russian)."""
    detail = str(getattr(exc, "detail", "") or "")
    if isinstance(exc, Forbidden) and detail.startswith("task is claimed by "):
        return f"Задачу уже взял в работу {detail.removeprefix('task is claimed by ')}."
    if isinstance(exc, ApiError):
        if exc.status == 404:
            return "Дело или задача не найдены (или недоступны вам)."
        if "supervisor" in detail:
            return "Этот шаг выполняет руководитель."
        return "Это действие вам недоступно."
    if isinstance(exc, NotFound):
        return "Дело или задача не найдены."
    if isinstance(exc, Conflict) and exc.field == "task_id":
        return ("Внешняя задача уже не в состоянии инцидента: её уже перезапустили или она "
                "выполнена. Обновите страницу.")
    if isinstance(exc, Conflict):
        return "Дело только что изменил другой сотрудник. Обновите страницу и повторите."
    if isinstance(exc, NotAllowed):
        for fragment, text in _NOT_ALLOWED:
            if fragment in detail:
                return text
        return "Это действие невозможно в текущем состоянии дела."
    if isinstance(exc, Forbidden):
        return "Это действие вам недоступно."
    if isinstance(exc, InvalidInput):
        if exc.field in ("ground", "data.ground"):
            return "Выберите основание из списка."
        if exc.field in ("outcome", "data.outcome"):
            return "Выберите решение: удовлетворить или отказать."
        if exc.field == "status":
            return "Выберите состояние документа из списка."
        if exc.field == "to":
            return "Выберите организацию, в компетенцию которой входит вопрос."
        if exc.field == "extension":
            return "Выберите основание продления срока из списка."
        if exc.field == "reply":
            return "Напишите текст ответа (не длиннее 20 000 знаков)."
        if exc.field == "note":
            return "Пояснение — не длиннее 4000 знаков."
        if exc.field == "retries":
            return "Число попыток — целое число от 1 до 100."
        return "Проверьте введённые данные."
    return "Действие не выполнено."


_FIXED = {text for _, text in _NOT_ALLOWED} | {
    "Дело или задача не найдены (или недоступны вам).", "Этот шаг выполняет руководитель.",
    "Это действие вам недоступно.", "Дело или задача не найдены.",
    "Дело только что изменил другой сотрудник. Обновите страницу и повторите.",
    "Это действие невозможно в текущем состоянии дела.", "Выберите основание из списка.",
    "Выберите решение: удовлетворить или отказать.", "Выберите состояние документа из списка.",
    "Проверьте введённые данные.", "Действие не выполнено.",
    "Выберите результат рассмотрения из списка.",
    "Выберите организацию, в компетенцию которой входит вопрос.",
    "Выберите основание продления срока из списка.",
    "Напишите текст ответа (не длиннее 20 000 знаков).", "Пояснение — не длиннее 4000 знаков.",
    "Отметьте задачи, которые хотите взять в работу."}
_CLAIMED_BY = re.compile(r"Задачу уже взял в работу [\w.@-]{1,128}\.")


def is_command_error(text: str) -> bool:
    """Whether `text` is one of the refusals above (a page carries one over a redirect in its
    URL, and shows nothing else it finds there)."""
    return text in _FIXED or bool(_CLAIMED_BY.fullmatch(text))


def ru_date(value: date | datetime | str | None) -> str:
    """02.12.2026 (a datetime: its date in UTC; use `ru_datetime` for a moment)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return value.strftime("%d.%m.%Y")


def ru_datetime(value: datetime | str | None, zone: tzinfo | None = None) -> str:
    """02.12.2026 09:30, in `zone` (stored moments are UTC)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone or UTC).strftime("%d.%m.%Y %H:%M")
