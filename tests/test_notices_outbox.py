"""The outbox: notices delivered by the worker's sweep through a real SMTP server on loopback
(aiosmtpd), once each; refusals and a server that is down retried with back-off and visible
meanwhile; concurrent workers sending each notice once; a worker lost mid-send."""
from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from sqlalchemy import func, select

from engine.errors import NotAllowed, NotFound
from engine.notices import mail, outbox
from engine.notices.mail import SmtpConfig
from engine.notices.outbox import Outbox, Round, backoff, claim, finish, retry
from engine.read.notices import outbox_counts, outbox_rows
from engine.runtime.scheduler import sweep
from engine.store.connect import connect
from engine.store.tables import notices
from engine.store.tables import outbox as outbox_table
from tests.casework import Engine
from tests.notices_support import ADDRESS, notify, outbox_row, reply
from tests.smtp_server import SmtpServer

SENDER = "okno@example.by"


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def eng(tmp_path) -> Engine:
    return Engine(tmp_path / "okno.db")


def config(server: SmtpServer, **kw) -> SmtpConfig:
    return SmtpConfig(host="127.0.0.1", port=server.port, sender=SENDER, timeout=5, **kw)


def one_notice(eng: Engine, **values) -> str:
    """A case withdrawn by a command that generated one e-mailed notice; the notice's id."""
    case_id = eng.start("1.1.5")
    notice = reply(**values)
    notify(eng.cases, case_id, notice)
    return notice.id


def test_a_notice_goes_out_once_with_its_headers_and_body(eng, smtp):
    notice_id = one_notice(eng)
    box = Outbox(eng.db, config(smtp))
    assert outbox_row(eng.db, notice_id)["status"] == "pending"  # written by the command itself

    sweep(eng.cases, outbox=box)
    sweep(eng.cases, outbox=box)  # the second sweep finds nothing to send
    eng.clock.advance(days=1)
    assert box.deliver(eng.cases.now) == Round()

    assert len(smtp.received) == 1
    mail_from, rcpt_tos, message, raw = smtp.received[0]
    assert (mail_from, rcpt_tos) == (SENDER, [ADDRESS])
    assert message["From"] == SENDER and message["To"] == ADDRESS
    assert message["Subject"] == "Ответ на обращение № minsk-sovetsky-2025-000001"
    assert b"\nSubject: =?utf-8?" in raw  # Russian, RFC 2047-encoded on the wire
    assert message["Message-ID"] == f"<notice-{notice_id}@example.by>"
    assert parsedate_to_datetime(message["Date"]) == datetime(2025, 6, 18, 7, 0, tzinfo=UTC)
    assert message["Auto-Submitted"] == "auto-generated"
    body = message.get_content()
    assert body.startswith("Уважаемый(ая) Иванов Иван Иванович!")
    assert "вывоз мусора возобновлён." in body
    row = outbox_row(eng.db, notice_id)
    assert (row["status"], row["attempts"], row["claim"], row["last_error"]) == ("sent", 1, None, None)
    assert row["sent_at"] is not None and row["message_id"] == message["Message-ID"]


def test_a_notice_without_an_address_is_stored_but_not_queued(eng, smtp):
    case_id = eng.start("1.1.5")
    printed, mailed = reply(recipient=None), reply()
    notify(eng.cases, case_id, printed, mailed)
    with eng.db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(notices)).scalar_one() == 2
        assert conn.execute(select(outbox_table.c.notice_id)).scalars().all() == [mailed.id]
    sweep(eng.cases, outbox=Outbox(eng.db, config(smtp)))
    assert [m["Message-ID"] for m in smtp.messages()] == [f"<notice-{mailed.id}@example.by>"]


@pytest.mark.parametrize("stage,answer", [
    ("data", "451 4.3.0 Try again later"),
    ("rcpt", "550 5.1.1 Mailbox unavailable"),
])
def test_a_refused_notice_is_retried_with_back_off_and_visible_meanwhile(eng, smtp, stage, answer):
    notice_id = one_notice(eng)
    box = Outbox(eng.db, config(smtp))
    smtp.refuse(2, answer, stage)
    start = eng.cases.now()

    assert box.deliver(eng.cases.now) == Round(retrying=1)
    row = outbox_row(eng.db, notice_id)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert answer in row["last_error"]
    assert row["next_attempt_at"].replace(tzinfo=UTC) == start + timedelta(minutes=1)
    assert outbox_counts(eng.db) == {"pending": 1, "sending": 0, "sent": 0, "failed": 0, "retrying": 1}
    shown = outbox_rows(eng.db, errors_only=True)
    assert [(r["notice_id"], r["status"], r["attempts"]) for r in shown] == [(notice_id, "pending", 1)]

    eng.clock.advance(seconds=59)  # not due yet: the server is not asked
    assert box.deliver(eng.cases.now) == Round()
    eng.clock.advance(seconds=1)
    assert box.deliver(eng.cases.now) == Round(retrying=1)
    row = outbox_row(eng.db, notice_id)
    assert row["attempts"] == 2
    assert row["next_attempt_at"].replace(tzinfo=UTC) == eng.cases.now() + timedelta(minutes=2)

    eng.clock.advance(minutes=2)
    assert box.deliver(eng.cases.now) == Round(sent=1)
    assert len(smtp.messages()) == 1
    row = outbox_row(eng.db, notice_id)
    assert (row["status"], row["attempts"]) == ("sent", 3)
    assert outbox_counts(eng.db)["sent"] == 1
    assert outbox_rows(eng.db, errors_only=True) == []


def test_a_server_that_is_down_is_retried_and_the_notice_goes_out_when_it_is_back(eng, smtp):
    notice_id = one_notice(eng)
    box = Outbox(eng.db, config(smtp))
    smtp.stop()
    assert box.deliver(eng.cases.now) == Round(retrying=1)
    assert "ConnectionRefusedError" in outbox_row(eng.db, notice_id)["last_error"]
    smtp.start()
    eng.clock.advance(minutes=1)
    assert box.deliver(eng.cases.now) == Round(sent=1)
    assert len(smtp.messages()) == 1


def several(eng: Engine, n: int) -> list[str]:
    case_id = eng.start("1.1.5")
    drafts = [reply() for _ in range(n)]
    notify(eng.cases, case_id, *drafts)
    return [d.id for d in drafts]


def test_a_server_that_is_down_costs_one_attempt_per_round_not_one_per_notice(eng, smtp):
    ids = several(eng, 3)
    box = Outbox(eng.db, config(smtp))
    smtp.stop()
    assert box.deliver(eng.cases.now) == Round(retrying=1)  # the others were not tried
    assert sorted(outbox_row(eng.db, i)["attempts"] for i in ids) == [0, 0, 1]
    smtp.start()
    eng.clock.advance(minutes=1)
    assert box.deliver(eng.cases.now) == Round(sent=3)


@pytest.mark.parametrize("settings,says", [
    ({"starttls": True}, "STARTTLS extension not supported by server"),
    ({"user": "okno", "password": "secret"}, "SMTP AUTH extension not supported by server"),
])
def test_a_server_without_the_tls_or_login_asked_for_is_not_sent_to(eng, smtp, settings, says):
    """Nothing goes out in clear text when STARTTLS was asked for, nor without the login."""
    notice_id = one_notice(eng)
    assert Outbox(eng.db, config(smtp, **settings)).deliver(eng.cases.now) == Round(retrying=1)
    assert says in outbox_row(eng.db, notice_id)["last_error"]
    assert "secret" not in outbox_row(eng.db, notice_id)["last_error"]
    assert smtp.messages() == []


def test_a_refused_message_does_not_stop_the_round(eng, smtp):
    several(eng, 3)
    smtp.refuse(1, "550 5.1.1 Mailbox unavailable", "rcpt")
    assert Outbox(eng.db, config(smtp)).deliver(eng.cases.now) == Round(sent=2, retrying=1)


def test_a_round_claims_no_new_notice_once_its_time_is_spent(eng, smtp):
    several(eng, 3)
    box = Outbox(eng.db, config(smtp), budget=0)  # spent after the first
    assert [box.deliver(eng.cases.now) for _ in range(4)] == [Round(sent=1)] * 3 + [Round()]
    assert len(smtp.messages()) == 3


def test_after_the_last_attempt_a_notice_fails_visibly_until_retried(eng, smtp, caplog):
    notice_id = one_notice(eng)
    box = Outbox(eng.db, config(smtp), attempts=2)
    smtp.refuse(2, "554 5.7.1 Rejected")
    with caplog.at_level(logging.WARNING, "okno.notices"):
        assert box.deliver(eng.cases.now) == Round(retrying=1)
        eng.clock.advance(minutes=1)
        assert box.deliver(eng.cases.now) == Round(failed=1)
    assert f"notice {notice_id} to {ADDRESS} failed after 2 attempt(s): 554 5.7.1 Rejected" in caplog.text
    eng.clock.advance(days=1)
    assert box.deliver(eng.cases.now) == Round()  # failed: no more attempts by itself
    assert outbox_counts(eng.db)["failed"] == 1
    [shown] = outbox_rows(eng.db, status="failed")
    assert (shown["notice_id"], shown["last_error"]) == (notice_id, "554 5.7.1 Rejected")

    retry(eng.db, notice_id, eng.cases.now())
    row = outbox_row(eng.db, notice_id)
    assert (row["status"], row["attempts"], row["last_error"]) == ("pending", 0, "554 5.7.1 Rejected")
    assert box.deliver(eng.cases.now) == Round(sent=1)
    assert len(smtp.messages()) == 1


def test_retry_names_what_it_cannot_retry(eng, smtp):
    notice_id = one_notice(eng)
    with pytest.raises(NotAllowed, match="is pending, not failed"):
        retry(eng.db, notice_id, eng.cases.now())
    with pytest.raises(NotFound) as refused:
        retry(eng.db, "no-such-notice", eng.cases.now())
    assert refused.value.field == "notice_id"
    assert outbox_row(eng.db, notice_id)["status"] == "pending"


def test_of_two_workers_claiming_one_row_only_one_gets_it(eng, smtp):
    notice_id = one_notice(eng)
    now = eng.cases.now()
    first = claim(eng.db, notice_id, now, config(smtp))
    assert first is not None and first.attempts == 1
    assert claim(eng.db, notice_id, now, config(smtp)) is None
    assert claim(eng.db, notice_id, now + timedelta(minutes=4), config(smtp)) is None  # leased
    assert finish(eng.db, first, now, None) == "sent"
    assert claim(eng.db, notice_id, now + timedelta(days=1), config(smtp)) is None  # sent


def test_concurrent_sweeps_send_every_notice_once(tmp_path, smtp):
    eng = Engine(tmp_path / "okno.db")
    case_id = eng.start("1.1.5")
    drafts = [reply() for _ in range(30)]
    notify(eng.cases, case_id, *drafts)
    url = eng.db.url.render_as_string(hide_password=False)  # each worker its own connections
    boxes = [Outbox(connect(url), config(smtp)) for _ in range(3)]
    ready = threading.Barrier(len(boxes))
    rounds: list[Round] = []

    def work(box: Outbox) -> None:
        ready.wait()
        rounds.append(box.deliver(eng.cases.now))

    threads = [threading.Thread(target=work, args=(box,)) for box in boxes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    ids = sorted(m["Message-ID"] for m in smtp.messages())
    assert ids == sorted(f"<notice-{d.id}@example.by>" for d in drafts)  # each once, none twice
    assert sum(r.sent for r in rounds) == 30
    assert outbox_counts(eng.db)["sent"] == 30


def test_a_worker_lost_between_send_and_record_is_resent_with_the_same_message_id(eng, smtp):
    """The at-least-once window: the server accepted the message, the worker stopped before it
    recorded that; after the lease another round sends it again, and the receiver can tell."""
    notice_id = one_notice(eng)
    cfg = config(smtp)
    lost = claim(eng.db, notice_id, eng.cases.now(), cfg)
    mail.send(cfg, mail.compose(lost._asdict(), lost.address, SENDER, eng.cases.now(), lost.message_id))
    box = Outbox(eng.db, cfg)
    assert box.deliver(eng.cases.now) == Round()  # still leased to the lost worker
    eng.clock.advance(seconds=outbox.lease(cfg.timeout).total_seconds())
    assert box.deliver(eng.cases.now) == Round(sent=1)
    first, second = smtp.messages()
    assert first["Message-ID"] == second["Message-ID"] == f"<notice-{notice_id}@example.by>"
    assert finish(eng.db, lost, eng.cases.now(), None) is None  # the lost worker records nothing
    assert outbox_row(eng.db, notice_id)["attempts"] == 2


def test_a_lost_last_attempt_fails_instead_of_sending_again(eng, smtp):
    notice_id = one_notice(eng)
    cfg = config(smtp)
    assert claim(eng.db, notice_id, eng.cases.now(), cfg, attempts_allowed=1) is not None
    eng.clock.advance(hours=1)
    assert Outbox(eng.db, cfg, attempts=1).deliver(eng.cases.now) == Round()
    row = outbox_row(eng.db, notice_id)
    assert row["status"] == "failed" and "may have been delivered" in row["last_error"]
    assert smtp.messages() == []


def test_without_an_smtp_server_nothing_is_sent_and_the_waiting_rows_are_logged(eng, caplog):
    notice_id = one_notice(eng)
    box = Outbox(eng.db, None)
    with caplog.at_level(logging.WARNING, "okno.notices"):
        assert box.deliver(eng.cases.now) == Round(waiting=1)
        assert box.deliver(eng.cases.now) == Round(waiting=1)
    assert caplog.text.count("1 notice(s) wait in the outbox: no SMTP server is configured") == 1
    assert outbox_row(eng.db, notice_id)["status"] == "pending"


def test_sweep_without_an_outbox_leaves_notices_alone(eng):
    notice_id = one_notice(eng)
    sweep(eng.cases)
    assert outbox_row(eng.db, notice_id)["attempts"] == 0


def test_back_off_doubles_from_a_minute_up_to_an_hour():
    assert [backoff(n) for n in (1, 2, 3, 6, 7, 8, 1000)] == [
        timedelta(minutes=m) for m in (1, 2, 4, 32, 60, 60, 60)]


def test_the_lease_outlasts_a_whole_smtp_conversation():
    assert outbox.lease(5) == timedelta(minutes=5)
    assert outbox.lease(60) == timedelta(minutes=12)
