"""The notices of real appeal commands (procedures/appeal.yaml, branch `appeals`) delivered by the
worker through a real SMTP server on loopback: the reply and the notice of leaving an appeal
without consideration go out once each, an appeal without an e-mail address gets its notice on paper only.

Skipped until the appeal definitions are in the catalog (they come with the `appeals` branch);
the other notice tests generate their notices through a withdrawal instead.
"""
from __future__ import annotations

import pytest

from engine.notices.mail import SmtpConfig
from engine.notices.outbox import Outbox, Round
from engine.read.notices import case_notices
from engine.runtime.scheduler import sweep
from tests.casework import Engine, catalog
from tests.smtp_server import SmtpServer

pytestmark = pytest.mark.skipif("appeal" not in catalog(),
                                reason="no appeal definition in the catalog yet (branch appeals)")
ADDRESS = "ivanov@example.by"
APPEAL = {"kind": "complaint", "topic": "housing", "question": "Во дворе не вывозят мусор.",
          "email": ADDRESS}


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def eng(tmp_path) -> Engine:
    return Engine(tmp_path / "okno.db")


def register(eng: Engine, **data) -> str:
    return eng.cases.start("appeal", applicant="Иванов Иван Иванович", channel="written",
                           authority="org-1", actor="clerk-1", data={**APPEAL, **data})


def outbox_of(eng: Engine, smtp: SmtpServer) -> Outbox:
    return Outbox(eng.db, SmtpConfig(host="127.0.0.1", port=smtp.port, sender="okno@example.by",
                                     timeout=5))


def test_the_reply_to_an_appeal_goes_out_once(eng, smtp):
    case_id = register(eng)
    for _ in range(5):
        open_tasks = eng.open_tasks(case_id)
        if open_tasks[0]["kind"] == "decision":
            break
        eng.cases.complete_task(case_id, open_tasks[0]["id"], {}, actor="clerk-1")
    eng.cases.reply(case_id, "explained", "Вывоз мусора возобновлён с 20.06.2025.", actor="clerk-1")
    [notice] = case_notices(eng.db, case_id)
    assert (notice["kind"], notice["recipient"], notice["delivery"]["status"]) == (
        "reply", ADDRESS, "pending")
    box = outbox_of(eng, smtp)
    sweep(eng.cases, outbox=box)
    sweep(eng.cases, outbox=box)
    [message] = smtp.messages()
    assert message["To"] == ADDRESS and message["Subject"] == notice["title"] == "Ответ на обращение"
    body = message.get_content()
    reg_number = eng.case(case_id)["reg_number"]
    assert reg_number and f"рег. № {reg_number}" in " ".join(body.split())
    assert "Вывоз мусора возобновлён с 20.06.2025." in body
    assert case_notices(eng.db, case_id)[0]["delivery"]["status"] == "sent"


def test_leaving_an_appeal_without_consideration_notifies_once_and_is_retried(eng, smtp):
    case_id = register(eng)
    ground = catalog()["appeal"].leave_grounds[0]
    eng.cases.leave(case_id, ground.id, actor="clerk-1")
    box = outbox_of(eng, smtp)
    smtp.refuse(1, "451 4.3.0 Try again later")
    assert box.deliver(eng.cases.now) == Round(retrying=1)
    eng.clock.advance(minutes=1)
    assert box.deliver(eng.cases.now) == Round(sent=1)
    [message] = smtp.messages()
    assert message["Subject"] == "Уведомление об оставлении обращения без рассмотрения по существу"
    assert " ".join(ground.title.split()) in " ".join(message.get_content().split())


def test_the_notice_of_an_appeal_without_an_e_mail_address_is_printed_not_mailed(eng, smtp):
    case_id = register(eng, email=None)
    eng.cases.leave(case_id, catalog()["appeal"].leave_grounds[0].id, actor="clerk-1")
    [notice] = case_notices(eng.db, case_id)
    assert notice["kind"] == "left_without_consideration"
    assert (notice["recipient"], notice["delivery"]) == (None, None)
    sweep(eng.cases, outbox=outbox_of(eng, smtp))
    assert smtp.messages() == []
