"""Shared set-up of the notice tests: a test-only definition with notice texts, and a real case
command that generates notices.

Not a test module itself. Until the appeal definitions (branch `appeals`) generate notices from
their commands, the tests let a real command of a real case (withdrawing it) append the drafts,
which the unit of work stores in the command's transaction exactly as an appeal's command will.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from engine.notices.drafts import NoticeDraft, draft
from engine.notices.mail import SmtpConfig
from engine.notices.outbox import Outbox, Round
from engine.runtime.commands import Cases
from engine.store.tables import outbox
from tests.smtp_server import free_port
from tests.test_api_support import Api


@dataclass(frozen=True)
class Text:
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class Definition:
    """What `draft` needs of a definition: its notices."""

    notices: tuple[Text, ...]


DEFINITION = Definition(notices=(
    Text("reply", "Ответ на обращение № {reg_number}",
         "Уважаемый(ая) {applicant}!\n\nНа ваше обращение от {registered_on} сообщаем: {reply}\n"),
    Text("forwarding", "Уведомление о направлении обращения № {reg_number}",
         "Ваше обращение направлено в {forwarded_to_name} по компетенции."),
))
VALUES = {"reg_number": "minsk-sovetsky-2025-000001", "applicant": "Иванов Иван Иванович",
          "registered_on": "18.06.2025", "reply": "вывоз мусора возобновлён.",
          "forwarded_to_name": "Минский горисполком"}
ADDRESS = "ivanov@example.by"


def reply(recipient: str | None = ADDRESS, **values: Any) -> NoticeDraft:
    """The test definition's reply notice, rendered."""
    return draft(DEFINITION, "reply", {**VALUES, **values}, recipient)


def notify(cases: Cases, case_id: str, *drafts: NoticeDraft, actor: str = "clerk-1") -> None:
    """Withdraw the case with a real command that also records `drafts`: stored with its event."""
    with cases.unit_of_work(actor) as uow:
        case = uow.cases.get(case_id)
        case.withdraw("заявитель отозвал заявление")
        case.notices.extend(drafts)
        uow.commit()


def outbox_row(db, notice_id: str) -> dict[str, Any]:
    with db.connect() as conn:
        return dict(conn.execute(select(outbox).where(outbox.c.notice_id == notice_id)).one()._mapping)


def noticed(api: Api, *drafts: NoticeDraft, user: str = "clerk", account: str | None = "ivan",
            number: str = "1.1.7") -> str:
    """A case registered over the API by `user` and withdrawn by a command recording `drafts`."""
    case_id = api.start(number, user=user, account=account)["id"]
    notify(api.services.cases, case_id, *drafts)
    return case_id


def fail_all(api: Api) -> Round:
    """Rounds against a port nobody listens on, with one attempt allowed, until none is left: every
    due notice fails for good (a round stops at the first failure of the server: one each)."""
    dead = Outbox(api.db, SmtpConfig(host="127.0.0.1", port=free_port(), sender="okno@example.by",
                                     timeout=2), attempts=1)
    failed = 0
    while (one := dead.deliver(api.services.cases.now)) != Round():
        assert one == Round(failed=1), one
        failed += 1
    return Round(failed=failed)
