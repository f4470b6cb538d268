"""Ratings aggregated (engine.ratings.register, .monitoring and GET /api/ratings*): per authority
and procedure, the register a superior body keeps of every authority below it with positions,
the half-year monitoring report; who may read them. Grades are given through the API on a real
SQLite file, the clock moved between them."""
from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest

from engine.accounts import add_user
from engine.authorities.authority import Authority, Person
from engine.authorities.catalog import AuthorityCatalog
from engine.clock import DEFAULT_ZONE
from engine.errors import InvalidInput
from engine.ratings.monitoring import HalfYear
from engine.ratings.register import period, ranked
from engine.store.tables import ratings
from tests.test_api_support import PASSWORD, Api, issue_token

SOVETSKY, FRUNZENSKY, TSENTRALNY, GIK = ("minsk-sovetsky", "minsk-frunzensky",
                                        "minsk-tsentralny", "minsk-gik")
NUMBER = "2.1"


def grades(value: int, term: int | None = None) -> dict[str, int]:
    return {"simplicity": value, "information": value, "term": term or value, "politeness": value}


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Api:
    """Grades (all by ivan, each of a case withdrawn the moment before):

    | when (UTC)        | authority   | grades (s, i, t, p) | average |
    |-------------------|-------------|---------------------|---------|
    | 2025-03-10 09:00  | sovetsky    | 5 5 5 5             | 5       |
    | 2025-03-11 09:00  | sovetsky    | 3 3 1 3             | 2.5     |  sovetsky H1: 3.75
    | 2025-04-01 09:00  | frunzensky  | 4 4 4 4             | 4       |  frunzensky H1: 4
    | 2025-06-30 20:59  | frunzensky  | 2 2 2 2             | 2       |  30 June 23:59 in Minsk: H1
    | 2025-06-30 21:00  | sovetsky    | 5 5 5 5             | 5       |  1 July 00:00 in Minsk: H2
    | 2025-09-01 09:00  | frunzensky  | 1 1 1 1             | 1       |
    Frunzensky H1: (4 + 2) / 2 = 3 < sovetsky 3.75: H1 positions sovetsky 1, frunzensky 2.
    H2: sovetsky 5, frunzensky 1: the same order. Tsentralny: no grades, no position.
    """
    api = Api(tmp_path_factory.mktemp("register"))
    for name, org in (("gik_sup", GIK), ("frunz_sup", FRUNZENSKY)):
        user = add_user(api.db, name, PASSWORD, "supervisor", org)
        api.users[name] = user
        api.tokens[name] = issue_token(user, api.services.secret)[0]
    plan = [("2025-03-10T09:00", "clerk", grades(5)), ("2025-03-11T09:00", "clerk", grades(3, 1)),
            ("2025-04-01T09:00", "clerk_b", grades(4)), ("2025-06-30T20:59", "clerk_b", grades(2)),
            ("2025-06-30T21:00", "clerk", grades(5)), ("2025-09-01T09:00", "clerk_b", grades(1))]
    for when, clerk, given in plan:
        api.clock.at = datetime.fromisoformat(when).replace(tzinfo=UTC)
        case = api.start(NUMBER, user=clerk)
        assert api.post(f"/api/cases/{case['id']}/withdraw", "ivan", {}).status_code == 200
        r = api.post(f"/api/cases/{case['id']}/rating", "ivan",
                     {**given, "comment": f"отзыв {when}"})
        assert r.status_code == 201, r.text
    api.clock.at = datetime(2025, 12, 20, 9, 0, tzinfo=UTC)
    assert api.count(ratings) == len(plan)
    return api


def _register(api: Api, user: str, authority: str = GIK, **query: str):
    return api.get("/api/ratings/register", user, params={"authority": authority, **query})


def test_the_register_ranks_every_authority_below_the_superior_body(api):
    r = _register(api, "gik_sup", **{"from": "2025-01-01", "to": "2025-06-30"})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [(i["authority"], i["position"], i["ratings"], i["average"]) for i in items] == [
        (SOVETSKY, 1, 2, 3.75), (FRUNZENSKY, 2, 2, 3.0), (TSENTRALNY, None, 0, None)]
    sovetsky = items[0]
    assert (sovetsky["simplicity"], sovetsky["term"]) == (4.0, 3.0)
    assert sovetsky["superior"] == GIK


def test_a_period_is_counted_in_local_days(api):
    july = _register(api, "gik_sup", **{"from": "2025-07-01", "to": "2025-07-01"}).json()["items"]
    assert [(i["authority"], i["ratings"]) for i in july][:1] == [(SOVETSKY, 1)]
    assert next(i for i in july if i["authority"] == FRUNZENSKY)["ratings"] == 0


def test_one_authority_s_figures_per_procedure_and_comments(api):
    r = api.get("/api/ratings", "gik_sup", params={"authority": FRUNZENSKY, "from": "2025-01-01",
                                                   "to": "2025-12-31"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["figures"]["ratings"] == 3
    assert body["figures"]["average"] == round((4 + 2 + 1) / 3, 2)
    assert [(p["number"], p["ratings"]) for p in body["by_procedure"]] == [(NUMBER, 3)]
    assert body["by_procedure"][0]["name"]
    assert [c["comment"] for c in body["comments"]] == [
        "отзыв 2025-09-01T09:00", "отзыв 2025-06-30T20:59", "отзыв 2025-04-01T09:00"]


def test_the_half_year_monitoring_report_lists_positions_and_moves(api):
    r = api.get("/api/ratings/monitoring", "gik_sup",
                params={"authority": GIK, "year": 2025, "half": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["period"], body["from"], body["to"]) == ("2025-H2", "2025-07-01", "2025-12-31")
    assert [(i["authority"], i["position"], i["previous_position"], i["move"])
            for i in body["items"]] == [(SOVETSKY, 1, 1, 0), (FRUNZENSKY, 2, 2, 0),
                                        (TSENTRALNY, None, None, None)]
    first = api.get("/api/ratings/monitoring", "auditor",
                    params={"authority": GIK, "year": 2025, "half": 1}).json()
    assert [i["previous_position"] for i in first["items"]] == [None, None, None]


def test_the_monitoring_report_as_csv(api):
    r = api.get("/api/ratings/monitoring", "gik_sup",
                params={"authority": GIK, "year": 2025, "half": 1, "format": "csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "monitoring-minsk-gik-2025-H1.csv" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["position", "authority", "name", "ratings"]
    assert [(row[0], row[1], row[3], row[8]) for row in rows[1:]] == [
        ("1", SOVETSKY, "2", "3.75"), ("2", FRUNZENSKY, "2", "3.0"), ("", TSENTRALNY, "0", "")]


@pytest.mark.parametrize(("user", "authority", "status"), [
    ("gik_sup", GIK, 200), ("gik_sup", SOVETSKY, 200),  # a superior body reads those below it
    ("supervisor", SOVETSKY, 200),  # its own
    ("supervisor", GIK, 403),  # not its superior's
    ("supervisor", FRUNZENSKY, 403),  # nor a neighbour's
    ("frunz_sup", SOVETSKY, 403),
    ("auditor", FRUNZENSKY, 200),
    ("clerk", SOVETSKY, 403), ("ivan", SOVETSKY, 403), ("analyst", SOVETSKY, 403),
    (None, SOVETSKY, 401),
])
def test_who_reads_the_figures(api, user, authority, status):
    for path in ("/api/ratings", "/api/ratings/register"):
        r = api.get(path, user, params={"authority": authority})
        assert r.status_code == status, (path, r.text)


@pytest.mark.parametrize(("query", "field"), [
    ({"authority": "minsk-nowhere"}, "authority"),
    ({"authority": GIK, "from": "2025-07-01", "to": "2025-06-30"}, "to"),
    ({"authority": GIK, "from": "2020-01-01", "to": "2025-06-30"}, "to"),
    ({"authority": GIK, "from": "01.01.2025"}, "query.from"),
    ({"authority": "Minsk GIK"}, "query.authority"),
])
def test_bad_queries_are_refused_naming_the_field(api, query, field):
    r = api.get("/api/ratings/register", "auditor", params=query)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field


def test_the_monitoring_half_is_one_or_two(api):
    r = api.get("/api/ratings/monitoring", "auditor", params={"authority": GIK, "year": 2025,
                                                              "half": 3})
    assert r.status_code == 422
    assert r.json()["field"] == "query.half"
    with pytest.raises(InvalidInput):
        HalfYear(2025, 0)


# ------------------------------------------------------------------------------------ units

def _authority(id_: str, superior: str | None) -> Authority:
    person = Person("Иванов И. И.", "начальник")
    return Authority(id=id_, name=f"Орган {id_}", kind="other", address="-", phone="-",
                     reception=(), officer=person, deputy=person, superior=superior)


def test_subordinates_are_every_level_below():
    catalog = AuthorityCatalog({a.id: a for a in (
        _authority("region", None), _authority("city", "region"), _authority("district", "city"),
        _authority("village", "district"), _authority("other-region", None),
        _authority("other-city", "other-region"))})
    assert [a.id for a in catalog.subordinates("region")] == ["city", "district", "village"]
    assert catalog.subordinates("village") == []
    assert catalog.is_within("village", "region") and catalog.is_within("city", "city")
    assert not catalog.is_within("region", "city")
    assert not catalog.is_within("other-city", "region")


def test_equal_averages_share_a_position_and_the_ungraded_come_last():
    items = ranked([{"name": "В", "average": 4.5, "ratings": 2},
                    {"name": "Г", "average": None, "ratings": 0},
                    {"name": "Б", "average": 4.5, "ratings": 9},
                    {"name": "А", "average": 3.0, "ratings": 1},
                    {"name": "Д", "average": 5.0, "ratings": 1}])
    assert [(i["name"], i["position"]) for i in items] == [
        ("Д", 1), ("Б", 2), ("В", 2), ("А", 4), ("Г", None)]


def test_a_half_year_in_minsk_starts_at_21_00_utc_the_day_before():
    h2 = HalfYear(2025, 2).period(DEFAULT_ZONE)
    assert h2.since == datetime(2025, 6, 30, 21, 0, tzinfo=UTC)
    assert h2.until == datetime(2025, 12, 31, 21, 0, tzinfo=UTC)
    assert HalfYear(2025, 1).before() == HalfYear(2024, 2)
    assert period(date(2024, 2, 29), date(2024, 2, 29), DEFAULT_ZONE).first == date(2024, 2, 29)
