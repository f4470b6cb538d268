"""Publishing without a restart: validating uploaded catalog files (okno issue 11, part 1)."""

from pathlib import Path

from engine.publication.files import MAX_FILES, validate_files

PROCEDURES = Path(__file__).resolve().parent.parent / "procedures"


def _files(*names: str) -> dict[str, bytes]:
    return {name: (PROCEDURES / name).read_bytes() for name in names}


def test_valid_files_give_procedures_and_no_problems():
    procedures, problems = validate_files(_files("1.1.5.yaml", "2.2.yaml", "bpmn/2.2.bpmn"))
    assert problems == []
    assert sorted(p.number for p in procedures) == ["1.1.5", "2.2"]


def test_every_problem_of_several_files_with_line_and_column():
    files = _files("1.1.5.yaml", "2.2.yaml")  # 2.2 without the BPMN file it names
    files["1.1.5.yaml"] = files["1.1.5.yaml"].replace(b'number: "1.1.5"', b'number: "1.1.5"\nbogus: 1')
    files["9.9.yaml"] = b"number: [\n"
    procedures, problems = validate_files(files)
    assert {p.path for p in problems} == {"1.1.5.yaml", "2.2.yaml", "9.9.yaml"}
    bogus = next(p for p in problems if p.path == "1.1.5.yaml")
    assert bogus.line == 3 and bogus.column > 1 and "bogus" in bogus.message
    assert all(p.line >= 1 and p.column >= 1 for p in problems)
    assert procedures == []


def test_bounds_and_names_are_refused_before_reading():
    assert validate_files({})[1][0].message == "no files given"
    many = {f"{i}.yaml": b"" for i in range(MAX_FILES + 1)}
    assert "at most" in validate_files(many)[1][0].message
    problems = validate_files({"../evil.yaml": b"number: x"})[1]
    assert problems[0].path == "../evil.yaml" and "relative name" in problems[0].message


# --- publish(): diff, one transaction, one audit row, burden confirmation ----------------------

def _publications(db) -> list[dict]:
    from sqlalchemy import select

    from engine.store.tables import publications
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(publications).order_by(publications.c.id))]


def _longer_term(files: dict[str, bytes]) -> dict[str, bytes]:
    files["1.1.5.yaml"] = files["1.1.5.yaml"].replace(b'max: "1 month"', b'max: "2 months"')
    return files


def test_unconfirmed_burden_refused_confirmed_one_published_with_audit_row(tmp_path):
    from engine.publication.publish import BurdensUnconfirmed, publish
    from tests.casework import Engine

    eng = Engine(tmp_path / "okno.db")
    before = eng.versions.current_versions()
    files = _longer_term(_files("1.1.5.yaml", "2.2.yaml", "bpmn/2.2.bpmn"))
    try:
        publish(eng.versions, files, actor="analyst-1", writer=eng.cases.ledger.writer)
        raise AssertionError("a longer term must be confirmed")
    except BurdensUnconfirmed as refused:
        assert refused.numbers == ["1.1.5"]
        assert all(c.number == "1.1.5" and c.class_ == "burden" for c in refused.changes)
    assert eng.versions.current_versions() == before and _publications(eng.db) == []

    done = publish(eng.versions, files, actor="analyst-1", confirm_burdens=["1.1.5"], writer=eng.cases.ledger.writer)
    assert list(done.versions) == ["1.1.5"]  # 2.2 is unchanged: nothing new to store
    assert done.diff.summary["burden"] >= 1
    assert eng.versions.current_versions()["1.1.5"] == done.versions["1.1.5"] != before["1.1.5"]
    [row] = _publications(eng.db)
    assert (row["id"], row["actor"], row["confirmed"]) == (done.id, "analyst-1", '["1.1.5"]')
    assert '"burden":' in row["summary"] and done.versions["1.1.5"] in row["versions"]
    case_id = eng.start("1.1.5")
    assert eng.case(case_id)["version"] == done.versions["1.1.5"]

    again = publish(eng.versions, files, actor="analyst-1", confirm_burdens=["1.1.5"], writer=eng.cases.ledger.writer)
    assert again.id is None and again.versions == {} and len(_publications(eng.db)) == 1
    assert eng.cases.ledger.verify(eng.db).breaks == []


def _published_once(tmp_path):
    from engine.publication.publish import publish
    from tests.casework import Engine

    eng = Engine(tmp_path / "okno.db")
    done = publish(eng.versions, _longer_term(_files("1.1.5.yaml")), actor="analyst-1",
                   confirm_burdens=["1.1.5"], writer=eng.cases.ledger.writer)
    return eng, done


def _catalog_events(db) -> list[dict]:
    from engine.audit.catalog import CATALOG, chain_rows
    with db.connect() as conn:
        rows = chain_rows(conn)
    assert all(r["case_id"] == CATALOG for r in rows)
    return rows


def _tamper(db, statement: str, **params) -> None:
    from sqlalchemy import text
    with db.begin() as conn:
        assert conn.execute(text(statement), params).rowcount == 1


def test_a_publication_is_an_event_of_the_audit_log(tmp_path):
    import orjson

    eng, done = _published_once(tmp_path)
    [event] = _catalog_events(eng.db)
    data = orjson.loads(event["data"])
    assert (event["seq"], event["action"], event["actor"]) == (1, "publish", "analyst-1")
    assert event["key_id"] == eng.cases.ledger.keys.current.id  # keyed like every step
    assert data["publication"] == done.id and data["versions"] == done.versions
    assert data["summary"] == done.diff.summary and data["confirmed"] == ["1.1.5"]
    assert data["changed"] == ["1.1.5"]
    report = eng.cases.ledger.verify(eng.db)
    assert report.breaks == [] and report.catalog_events == 1
    # a second publication chains onto the first
    from engine.publication.publish import publish
    files = _longer_term(_files("1.1.5.yaml"))
    files["1.1.5.yaml"] = files["1.1.5.yaml"].replace(b'max: "2 months"', b'max: "1 month"')
    publish(eng.versions, files, actor="analyst-2", writer=eng.cases.ledger.writer)
    first, second = _catalog_events(eng.db)
    assert second["seq"] == 2 and second["prev_hash"] == first["hash"]
    assert eng.cases.ledger.verify(eng.db).breaks == []
    # the checkpoint signs the catalog's events with the cases' ones
    cp = eng.cases.ledger.checkpoint(eng.db, eng.clock.now())
    assert cp is not None and cp.size == _event_count(eng.db)


def _event_count(db) -> int:
    from sqlalchemy import func, select

    from engine.store.tables import events
    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(events)).scalar_one()


def _breaks(eng) -> list[str]:
    return [str(b) for b in eng.cases.ledger.verify(eng.db).breaks]


def test_an_edited_publication_row_is_named(tmp_path):
    eng, done = _published_once(tmp_path)
    _tamper(eng.db, "UPDATE publications SET actor = 'someone-else' WHERE id = :id", id=done.id)
    found = _breaks(eng)
    assert found == [f"catalog, event 1: publication {done.id}: actor is 'someone-else' in the "
                     f"database, 'analyst-1' by its event"]


def test_an_edited_publication_summary_is_named(tmp_path):
    eng, done = _published_once(tmp_path)
    _tamper(eng.db, "UPDATE publications SET confirmed = '[]' WHERE id = :id", id=done.id)
    assert any(f"publication {done.id}: confirmed is '[]'" in b for b in _breaks(eng))


def test_a_deleted_publication_row_is_named(tmp_path):
    eng, done = _published_once(tmp_path)
    _tamper(eng.db, "DELETE FROM publications WHERE id = :id", id=done.id)
    assert _breaks(eng) == [f"catalog, event 1: publication {done.id} is missing from the "
                            f"database (deleted)"]


def test_a_publication_without_its_event_is_named(tmp_path):
    eng, done = _published_once(tmp_path)
    _tamper(eng.db, "DELETE FROM events WHERE case_id = 'catalog'")
    assert _breaks(eng) == [f"catalog, publications: publication {done.id} has no audit event "
                            f"(inserted or its event deleted)"]


def test_an_edited_publication_event_is_named(tmp_path):
    import orjson

    from engine.audit.chain import digest

    eng, done = _published_once(tmp_path)
    [event] = _catalog_events(eng.db)
    data = {**orjson.loads(event["data"]), "actor": "someone-else"}
    # even with its digest recomputed, the keyed hash no longer holds
    _tamper(eng.db, "UPDATE events SET data = :data, digest = :digest, actor = 'someone-else' "
                    "WHERE gseq = :gseq", data=orjson.dumps(data).decode(), digest=digest(data),
            gseq=event["gseq"])
    found = _breaks(eng)
    assert "catalog, event 1: its fields were edited, or it was rechained without the key" in found


def test_a_deleted_newest_publication_and_event_are_caught_by_the_checkpoint(tmp_path):
    eng, done = _published_once(tmp_path)
    assert eng.cases.ledger.checkpoint(eng.db, eng.clock.now()) is not None
    _tamper(eng.db, "DELETE FROM publications WHERE id = :id", id=done.id)
    _tamper(eng.db, "DELETE FROM events WHERE case_id = 'catalog'")
    found = _breaks(eng)
    assert found and all(b.startswith("log: ") for b in found)


def test_the_cli_names_a_tampered_publication(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from api.cli import app
    from tests.casework import AUDIT_KEY
    from tests.db_support import url

    eng, done = _published_once(tmp_path)
    monkeypatch.setenv("OKNO_AUDIT_KEY", AUDIT_KEY)
    args = ["audit", "verify", "--database", url(tmp_path / "okno.db"),
            "--checkpoints", str(tmp_path / "cps")]
    assert CliRunner().invoke(app, args).exit_code == 0
    _tamper(eng.db, "UPDATE publications SET summary = '{}' WHERE id = :id", id=done.id)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and f"catalog, event 1: publication {done.id}: summary is '{{}}'" in result.output


def test_invalid_files_store_nothing(tmp_path):
    from engine.publication.publish import InvalidFiles, publish
    from tests.casework import Engine

    eng = Engine(tmp_path / "okno.db")
    before = eng.versions.current_versions()
    files = _longer_term(_files("1.1.5.yaml"))
    files["9.9.yaml"] = b"number: [\n"
    try:
        publish(eng.versions, files, actor="analyst-1", confirm_burdens=["1.1.5"], writer=eng.cases.ledger.writer)
        raise AssertionError("invalid files must be refused")
    except InvalidFiles as refused:
        assert [p.path for p in refused.problems] == ["9.9.yaml"]
    assert eng.versions.current_versions() == before and _publications(eng.db) == []


# --- the routes ---------------------------------------------------------------------------------

def _upload(files: dict[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (name, raw, "application/octet-stream")) for name, raw in files.items()]


def test_validate_route_reports_every_problem_and_stores_nothing(tmp_path):
    from tests.test_api_support import Api

    api = Api(tmp_path)
    files = _files("1.1.5.yaml", "2.2.yaml")
    files["9.9.yaml"] = b"number: [\n"
    before = api.services.versions.current_versions()
    r = api.post("/api/catalog/validate", user="analyst", files=_upload(files))
    assert r.status_code == 200, r.text
    problems = r.json()["problems"]
    assert {p["file"] for p in problems} == {"2.2.yaml", "9.9.yaml"}
    assert all(p["line"] >= 1 and p["column"] >= 1 and p["message"] for p in problems)
    assert api.services.versions.current_versions() == before
    assert api.post("/api/catalog/validate", user="analyst",
                    files=_upload(_files("1.1.5.yaml"))).json() == {"problems": []}
    assert api.post("/api/catalog/validate", user="clerk", files=_upload(files)).status_code == 403


def test_publish_route_refuses_then_publishes_a_confirmed_burden(tmp_path):
    from tests.test_api_support import Api

    api = Api(tmp_path)
    files = _longer_term(_files("1.1.5.yaml"))
    before = api.services.versions.current_versions()
    refused = api.post("/api/catalog/publish", user="analyst", files=_upload(files))
    assert refused.status_code == 409 and refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["field"] == "confirm_burdens"
    assert all(e["detail"].startswith("1.1.5: ") for e in refused.json()["errors"])
    bad = api.post("/api/catalog/publish", user="analyst", files=_upload({"9.9.yaml": b"number: [\n"}))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "files.9.9.yaml"
    assert api.post("/api/catalog/publish", user="supervisor", files=_upload(files),
                    data={"confirm_burdens": ["1.1.5"]}).status_code == 403
    assert api.services.versions.current_versions() == before and _publications(api.services.db) == []

    done = api.post("/api/catalog/publish", user="analyst", files=_upload(files),
                    data={"confirm_burdens": ["1.1.5"]})
    assert done.status_code == 201, done.text
    body = done.json()
    assert body["id"] == 1 and body["diff"]["summary"]["burden"] >= 1
    assert api.services.versions.current_versions()["1.1.5"] == body["versions"]["1.1.5"]
    assert api.get("/api/procedures/1.1.5", user="analyst").json()["version"] == body["versions"]["1.1.5"]


def test_a_running_server_serves_a_publication_without_a_restart(tmp_path):
    """A real `okno serve` process: a publication through it is used by the next new case while
    a case started before keeps its version; no restart."""
    import httpx

    from tests.serving import okno_serve
    from tests.test_api_support import PASSWORD, Api

    api = Api(tmp_path)  # the database with users and the catalog; the server's catalog is empty
    old = api.services.versions.current_versions()["1.1.5"]
    api.services.db.dispose()
    with okno_serve(tmp_path) as served:
        def token(name: str) -> dict[str, str]:
            r = httpx.post(f"{served.base}/api/auth/token", data={"username": name, "password": PASSWORD})
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        clerk, analyst = token("clerk"), token("analyst")
        body = {"number": "1.1.5", "applicant": "ivan", "channel": "in_person", "applicant_user": "ivan"}
        running = httpx.post(f"{served.base}/api/cases", json=body, headers=clerk)
        assert running.status_code == 201, running.text
        done = httpx.post(f"{served.base}/api/catalog/publish", headers=analyst,
                          files=_upload(_longer_term(_files("1.1.5.yaml"))),
                          data={"confirm_burdens": ["1.1.5"]})
        assert done.status_code == 201, done.text
        new = done.json()["versions"]["1.1.5"]
        started = httpx.post(f"{served.base}/api/cases", json=body, headers=clerk)
        assert started.status_code == 201, started.text
        case = httpx.get(f"{served.base}/api/cases/{running.json()['id']}", headers=clerk).json()
        fresh = httpx.get(f"{served.base}/api/cases/{started.json()['id']}", headers=clerk).json()
    assert new != old and case["version"] == old and fresh["version"] == new


def test_a_restart_does_not_undo_a_publication(tmp_path):
    """Startup loads procedures/: a definition whose version is stored but no longer current
    (the publication replaced it) does not become current again."""
    from api.deps import build_services
    from engine.publication.publish import publish
    from tests.casework import Engine
    from tests.db_support import url

    eng = Engine(tmp_path / "okno.db")
    done = publish(eng.versions, _longer_term(_files("1.1.5.yaml")), actor="analyst-1",
                   confirm_burdens=["1.1.5"], writer=eng.cases.ledger.writer)
    restarted = build_services(url(tmp_path / "okno.db"), catalog_path=PROCEDURES, secret="s" * 32)
    assert restarted.versions.current_versions()["1.1.5"] == done.versions["1.1.5"]


# --- okno publish -------------------------------------------------------------------------------

def test_cli_publishes_a_folder_and_a_git_revision(tmp_path, monkeypatch):
    import shutil
    import subprocess

    from typer.testing import CliRunner

    from api.cli import app
    from tests.casework import AUDIT_KEY, Engine
    from tests.db_support import url

    monkeypatch.setenv("OKNO_AUDIT_KEY", AUDIT_KEY)  # the CLI keys its events as the engine does
    eng = Engine(tmp_path / "okno.db")
    before = eng.versions.current_versions()["1.1.5"]
    repo = tmp_path / "repo"
    (repo / "procedures").mkdir(parents=True)
    for name, raw in _longer_term(_files("1.1.5.yaml")).items():
        (repo / "procedures" / name).write_bytes(raw)
    database = ["--database", url(tmp_path / "okno.db")]
    runner = CliRunner()
    refused = runner.invoke(app, ["publish", str(repo / "procedures"), *database])
    assert refused.exit_code == 1 and "1.1.5" in refused.output
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "9.9.yaml").write_bytes(b"number: [\n")
    invalid = runner.invoke(app, ["publish", str(broken), *database])
    assert invalid.exit_code == 1 and f"{broken}/9.9.yaml:" in invalid.output
    assert eng.versions.current_versions()["1.1.5"] == before and _publications(eng.db) == []

    done = runner.invoke(app, ["publish", str(repo / "procedures"), "--confirm-burden", "1.1.5",
                               "--actor", "analyst-1", *database])
    assert done.exit_code == 0, done.output
    assert eng.versions.current_versions()["1.1.5"] != before

    shutil.copy(PROCEDURES / "1.1.5.yaml", repo / "procedures" / "1.1.5.yaml")  # the old text back
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "procedures"], check=True)
    subprocess.run([*git, "commit", "-qm", "old"], check=True)
    back = runner.invoke(app, ["publish", "git:HEAD", "--repo", str(repo), *database])
    assert back.exit_code == 0, back.output
    assert eng.versions.current_versions()["1.1.5"] == before  # published again: current again
    assert [r["actor"] for r in _publications(eng.db)][0] == "analyst-1" and len(_publications(eng.db)) == 2
    assert eng.cases.ledger.verify(eng.db).breaks == []  # both publications are in the audit log


# --- concurrency ----------------------------------------------------------------------------------

def test_completions_during_a_publish_lose_no_step(tmp_path):
    """Tasks are completed on running cases in threads while a publication runs: every completion
    is stored once, the audit chain verifies, and a case started meanwhile runs one whole version."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import func, select

    from engine.publication.publish import publish
    from engine.store.tables import events
    from tests.casework import Engine

    eng = Engine(tmp_path / "okno.db")
    old = eng.versions.current_versions()["1.1.5"]
    running = [eng.start("1.1.5") for _ in range(4)]
    files = _longer_term(_files("1.1.5.yaml"))

    def started() -> tuple[str, list[str]]:
        case_id = eng.start("1.1.5")
        return case_id, eng.run_to_end(case_id)

    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = [pool.submit(eng.run_to_end, case_id) for case_id in running]
        published = pool.submit(publish, eng.versions, files, "analyst-1", ["1.1.5"],
                                writer=eng.cases.ledger.writer)
        fresh = [pool.submit(started) for _ in range(2)]
        steps = [run.result() for run in runs]
        new = published.result().versions["1.1.5"]
        fresh_runs = [f.result() for f in fresh]
    with eng.db.connect() as conn:
        def completions(case_id: str) -> int:
            return conn.execute(select(func.count()).select_from(events).where(
                events.c.case_id == case_id, events.c.action == "complete")).scalar_one()
        for case_id, done in zip(running, steps, strict=True):
            assert done and completions(case_id) == len(done)
            assert eng.case(case_id)["version"] == old
        for case_id, done in fresh_runs:
            assert eng.case(case_id)["version"] in {old, new} and completions(case_id) == len(done)
    assert new != old and eng.verify()[1] == []
