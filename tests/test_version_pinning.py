"""A stored version runs the BPMN compiled when it was published, not what this release compiles."""
from __future__ import annotations

import pytest
from sqlalchemy import select, update

from engine.definition.build import build_procedure
from engine.definition.validation import load_catalog
from engine.process.compile import compile_procedure
from engine.process.specs import clear_spec_cache
from engine.store.tables import procedure_versions, tasks
from engine.store.versions import Versions
from tests.casework import CATALOG, Engine


@pytest.fixture(autouse=True)
def _fresh_specs():
    # The tests below parse edited XML for catalog versions: keep it out of other tests' cache.
    clear_spec_cache()
    yield
    clear_spec_cache()


@pytest.fixture
def eng(tmp_path):
    # Published here, not copied from the template database: these tests are about publishing.
    return Engine(tmp_path / "okno.db", procedures=load_catalog(CATALOG))


def _stored_xml(eng: Engine, version: str) -> str | None:
    with eng.db.connect() as conn:
        return conn.execute(select(procedure_versions.c.compiled_xml)
                            .where(procedure_versions.c.version == version)).scalar_one()


def _store_xml(eng: Engine, version: str, xml: str | None) -> None:
    with eng.db.begin() as conn:
        conn.execute(update(procedure_versions).where(procedure_versions.c.version == version)
                     .values(compiled_xml=xml))


def test_publish_stores_the_compiled_xml_and_pins_the_procedure(eng):
    for number, proc in eng.catalog.items():
        stored = _stored_xml(eng, proc.version)
        if proc.bpmn_xml is not None:  # drawn: the stored bpmn_xml is what runs
            assert stored is None, number
            continue
        assert stored == compile_procedure(proc), number
        pinned = eng.versions.get(proc.version)
        assert pinned.pinned_xml == stored
        assert pinned == proc and pinned.version == proc.version  # not part of the definition
    fresh = Versions(eng.db, eng.clock).get(eng.catalog["6.1.1"].version)
    assert fresh.pinned_xml == _stored_xml(eng, fresh.version)
    assert fresh.version == eng.catalog["6.1.1"].version


def test_a_running_case_continues_on_the_stored_xml(eng, tmp_path):
    proc = eng.catalog["6.1.1"]
    case_id = eng.start("6.1.1")
    assert eng.open_tasks(case_id)[0]["step"] == "intake"
    # As if another release had compiled the steps differently: the stored text is what counts.
    title = proc.step("decision").title
    stored = _stored_xml(eng, proc.version)
    edited = stored.replace(f'id="decision" name="{title}"', 'id="decision" name="Решение (схема версии)"')
    assert edited != stored
    _store_xml(eng, proc.version, edited)

    later = Engine(tmp_path / "okno.db")  # a new process: new Versions, new Cases, same database
    assert later.versions.get(proc.version).pinned_xml == edited
    steps = later.run_to_end(case_id)
    assert "decision" in steps
    case = later.case(case_id)
    assert case["status"] == "completed" and case["version"] == proc.version
    with later.db.connect() as conn:
        titles = dict(conn.execute(select(tasks.c.step, tasks.c.title).where(tasks.c.case_id == case_id)).all())
    assert titles["decision"] == "Решение (схема версии)"
    assert titles["intake"] == proc.step("intake").title


def test_a_version_stored_before_compiled_xml_existed_is_pinned_when_read(eng):
    proc = eng.catalog["6.1.1"]
    _store_xml(eng, proc.version, None)
    drawn = eng.catalog["2.2"]
    assert drawn.bpmn_xml is not None and _stored_xml(eng, drawn.version) is None

    versions = Versions(eng.db, eng.clock)
    got = versions.get(proc.version)
    assert _stored_xml(eng, proc.version) == compile_procedure(proc) == got.pinned_xml
    assert got.version == proc.version
    assert versions.get(drawn.version).pinned_xml is None  # drawn: nothing to pin
    assert _stored_xml(eng, drawn.version) is None
    # From now on the stored text is what runs, whatever a later release compiles.
    _store_xml(eng, proc.version, got.pinned_xml.replace("<bpmn:userTask", "<bpmn:userTask ", 1))
    assert Versions(eng.db, eng.clock).get(proc.version).pinned_xml != got.pinned_xml


def test_a_version_published_again_keeps_its_stored_xml(eng):
    old = eng.catalog["6.1.1"]
    data = old.definition
    data["steps"] = [s for s in data["steps"] if s["id"] != "review"]
    newer = build_procedure(data, "6.1.1.yaml")
    eng.versions.publish([newer])
    assert _stored_xml(eng, newer.version) == compile_procedure(newer)
    edited = _stored_xml(eng, old.version).replace("<bpmn:userTask", "<bpmn:userTask ", 1)
    _store_xml(eng, old.version, edited)

    versions = Versions(eng.db, eng.clock)
    assert versions.publish([old]) == [old.version]  # the old definition is current again
    assert versions.current("6.1.1").pinned_xml == edited
    assert versions.get(old.version).pinned_xml == edited
