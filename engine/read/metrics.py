"""The figures GET /metrics reports from the database: global, whichever process is asked.

Every figure is an index range or an index seek, never a scan of every case or task, so a scrape
costs about the same at 1,000 cases as at 1,000,000:
- open tasks per authority: one range of `ix_tasks_authority_state` (authority, state, …) for each
  authority that has staff (the only authorities a case can be registered with);
- overdue cases per authority: open cases whose due date has passed (the dashboard's definition,
  engine.read.dashboard), a range of `ix_cases_authority_status_due` (authority, status, due_date);
- overdue cases not yet marked by the scheduler: a range of `ix_cases_open_due` (status, overdue,
  due_date);
- the oldest timer that is due and not yet fired (of an open case): the timers' `due_at` index in
  order, each checked against its case by primary key, up to the first of an open case;
- the newest sweep any scheduler worker noted (`worker_sweeps`, one row per worker).
The caller (api.metrics) keeps the result for a few seconds, so scrapes cannot load the database.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from engine.accounts import STAFF
from engine.statuses import CaseStatus, TaskStatus
from engine.store.tables import cases, tasks, timers, users, worker_sweeps

MAX_AUTHORITIES = 5000  # label values a scrape may carry (a country's one-window offices fit)


@dataclass(frozen=True)
class Figures:
    open_tasks: dict[str, int]  # authority -> open tasks
    overdue_cases: dict[str, int]  # authority -> open cases past their due date
    unmarked_overdue: int  # open cases past their due date the scheduler has not marked yet
    oldest_due_timer: datetime | None  # due_at of the oldest timer due and not fired
    last_sweep: datetime | None  # when a scheduler worker last finished a sweep


def figures(db: Engine, now: datetime, today: date) -> Figures:
    """The figures as the database holds them at `now` (`today` in the legal terms' zone)."""
    open_case = cases.c.status == CaseStatus.OPEN.value
    with db.connect() as conn:
        authorities = conn.execute(select(users.c.org).distinct().where(users.c.role.in_(STAFF))
                                   .order_by(users.c.org).limit(MAX_AUTHORITIES)).scalars().all()
        open_tasks, overdue = {}, {}
        for authority in authorities:
            open_tasks[authority] = conn.execute(select(func.count()).select_from(tasks).where(
                tasks.c.authority == authority, tasks.c.state == TaskStatus.OPEN.value)).scalar_one()
            overdue[authority] = conn.execute(select(func.count()).select_from(cases).where(
                cases.c.authority == authority, open_case, cases.c.due_date < today)).scalar_one()
        unmarked = conn.execute(select(func.count()).select_from(cases).where(
            open_case, cases.c.overdue.is_(False), cases.c.due_date < today)).scalar_one()
        oldest = conn.execute(select(timers.c.due_at).where(
            timers.c.due_at < now,
            select(cases.c.id).where(cases.c.id == timers.c.case_id, open_case).exists(),
        ).order_by(timers.c.due_at).limit(1)).scalar()
        swept = conn.execute(select(func.max(worker_sweeps.c.swept_at))).scalar()
    return Figures(open_tasks, overdue, unmarked, oldest, swept)
