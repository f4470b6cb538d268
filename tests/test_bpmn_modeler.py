"""BPMN files drawn in modelers come in (issue 11, part 2): every problem at once, located in the
.bpmn file as an edit; laneless processes with a default role; call activities into other catalog
files; several pools; the size and element bounds before SpiffWorkflow's parser."""
from __future__ import annotations

import re
from pathlib import Path

import yaml
from typer.testing import CliRunner

from api.cli import app
from engine.bpmn.check import check_bpmn
from engine.bpmn.xml import MAX_BPMN_BYTES, MAX_BPMN_ELEMENTS, BpmnError
from engine.definition.validation import load_catalog, validate_paths
from engine.publication.files import validate_files
from tests.casework import Engine

ROOT = Path(__file__).resolve().parents[1]
DRAWN = (ROOT / "procedures" / "bpmn" / "2.2.bpmn").read_text(encoding="utf-8")
DEFINITION = yaml.safe_load((ROOT / "procedures" / "2.2.yaml").read_text(encoding="utf-8"))

# A file as Camunda Modeler 7 draws it before an analyst touches it: not executable, one unnamed
# lane holding the first task and a second task in no lane, a script with `import os`, a service
# task with no external topic.
MODELER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
  id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.25.0">
  <bpmn:process id="Process_1" isExecutable="false">
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="Lane_1">
        <bpmn:flowNodeRef>Task_1</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="StartEvent_1">
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:userTask id="Task_1" name="Принять заявление">
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:userTask id="Task_2" name="Рассмотреть">
      <bpmn:incoming>Flow_2</bpmn:incoming>
      <bpmn:outgoing>Flow_3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:scriptTask id="S1" name="Посчитать" scriptFormat="python">
      <bpmn:incoming>Flow_3</bpmn:incoming>
      <bpmn:outgoing>Flow_4</bpmn:outgoing>
      <bpmn:script>total = 1
import os</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:serviceTask id="Service_1" name="Запросить реестр" camunda:class="org.example.Delegate">
      <bpmn:incoming>Flow_4</bpmn:incoming>
      <bpmn:outgoing>Flow_5</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="EndEvent_1">
      <bpmn:incoming>Flow_5</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_1" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_1" targetRef="Task_2" />
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Task_2" targetRef="S1" />
    <bpmn:sequenceFlow id="Flow_4" sourceRef="S1" targetRef="Service_1" />
    <bpmn:sequenceFlow id="Flow_5" sourceRef="Service_1" targetRef="EndEvent_1" />
  </bpmn:process>
</bpmn:definitions>
"""


def line_of(text: str, needle: str, after: str = "") -> int:
    start = text.index(after) if after else 0
    return text[:text.index(needle, start)].count("\n") + 1


def catalog(tmp_path: Path, xml: str, bpmn: object = "bpmn/2.2.bpmn",
            others: dict[str, str] | None = None) -> Path:
    """A catalog folder with 2.2 naming `bpmn` and the BPMN file `xml` (and `others`)."""
    folder = tmp_path / "catalog"
    (folder / "bpmn").mkdir(parents=True)
    data = {**DEFINITION, "bpmn": bpmn}
    (folder / "2.2.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                                     encoding="utf-8")
    (folder / "bpmn" / "2.2.bpmn").write_text(xml, encoding="utf-8")
    for name, text in (others or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def problems_of(folder: Path) -> list:
    procedures, problems = validate_paths([folder])
    assert procedures == [] and problems
    return problems


def without_lanes(xml: str) -> str:
    return re.sub(r"\s*<bpmn:laneSet .*?</bpmn:laneSet>", "", xml, flags=re.DOTALL)


# ------------------------------------------------------------------------------------------------
# 1. every problem at once, as edits in the .bpmn file


def test_a_modeler_file_gives_all_its_problems_at_once_with_their_lines(tmp_path):
    folder = catalog(tmp_path, MODELER)
    problems = problems_of(folder)
    bpmn = str(folder / "bpmn" / "2.2.bpmn")
    assert {p.path for p in problems} == {bpmn}  # located in the drawn file, not the YAML
    found = {(p.line, p.message.split(" ")[0] + " " + p.message.split(" ")[1]): p for p in problems}
    process = found[(line_of(MODELER, '<bpmn:process'), "process 'Process_1'")]
    assert 'set isExecutable="true"' in process.message and "'Executable' checkbox" in process.message
    lane = found[(line_of(MODELER, '<bpmn:lane '), "lane 'Lane_1'")]
    assert "has no name: name it after a role: clerk, head" in lane.message
    task = found[(line_of(MODELER, 'id="Task_2"'), "userTask 'Task_2'")]
    assert "is in no lane" in task.message and "default_role" in task.message
    script = found[(line_of(MODELER, "import os"), "scriptTask 'S1'")]
    assert "`import os` is outside the safe script language" in script.message
    service = found[(line_of(MODELER, 'id="Service_1"'), "serviceTask 'Service_1'")]
    assert 'camunda:type="external"' in service.message
    assert len(problems) == 5, [str(p) for p in problems]
    for problem in problems:
        assert problem.column >= 1
        assert not re.search(r"Spiff|Exception|Expected is|\{http", problem.message)


def test_the_cli_prints_each_problem_as_file_line_column(tmp_path):
    folder = catalog(tmp_path, MODELER)
    result = CliRunner().invoke(app, ["validate", str(folder)])
    assert result.exit_code == 1
    bpmn = str(folder / "bpmn" / "2.2.bpmn")
    lines = [line for line in result.output.splitlines() if line.startswith(bpmn + ":")]
    assert len(lines) == 5, result.output
    assert f"{bpmn}:{line_of(MODELER, '<bpmn:process')}:1: process 'Process_1'" in result.output
    assert f"{bpmn}:{line_of(MODELER, 'import os')}:1: scriptTask 'S1'" in result.output
    assert "5 problem(s) in 1 of 1 file(s)" in result.output


def test_the_validate_route_locates_the_problems_in_the_bpmn_file(tmp_path):
    from tests.test_api_support import Api

    api = Api(tmp_path)
    files = {"2.2.yaml": (ROOT / "procedures" / "2.2.yaml").read_bytes(),
             "bpmn/2.2.bpmn": MODELER.encode("utf-8")}
    r = api.post("/api/catalog/validate", user="analyst",
                 files=[("files", (n, raw, "application/octet-stream")) for n, raw in files.items()])
    assert r.status_code == 200, r.text
    problems = r.json()["problems"]
    assert {p["file"] for p in problems} == {"bpmn/2.2.bpmn"} and len(problems) == 5
    assert {p["line"] for p in problems} >= {line_of(MODELER, "<bpmn:process"), line_of(MODELER, "<bpmn:lane "),
                                            line_of(MODELER, "import os")}
    assert all(p["column"] >= 1 for p in problems)


def test_schema_errors_come_all_at_once_in_modeler_terms():
    xml = DRAWN.replace("<bpmn:incoming>Flow_start_intake</bpmn:incoming>", "<bpmn:foo />", 1)
    xml = xml.replace('<bpmn:endEvent id="end_refused" name="Отказ">',
                      '<bpmn:endEvent id="end_refused" name="Отказ" colour="red">', 1)
    try:
        check_bpmn(xml, {"clerk", "head"})
    except BpmnError as exc:
        problems = exc.problems
    else:
        raise AssertionError("refused expected")
    messages = [p.message for p in problems]
    assert len(problems) == 2, messages
    assert problems[0].line == line_of(xml, "<bpmn:foo />")
    assert messages[0].startswith(f"element bpmn:foo (line {problems[0].line}): this element is "
                                  "not allowed here (allowed here: ")
    assert problems[1].line == line_of(xml, 'colour="red"')
    assert "remove the attribute 'colour'" in messages[1]
    assert not any("Expected is" in m or "{http" in m for m in messages)


def test_the_shipped_file_validates_and_is_stored_as_drawn():
    assert check_bpmn(DRAWN, {"clerk", "head"}) == DRAWN


# ------------------------------------------------------------------------------------------------
# 2. a process without lanes runs with one default role


def test_a_laneless_process_with_a_default_role_runs_to_approved(tmp_path):
    folder = catalog(tmp_path, without_lanes(DRAWN), {"file": "bpmn/2.2.bpmn", "default_role": "clerk"})
    procedures = load_catalog(folder)
    assert procedures["2.2"].bpmn == "bpmn/2.2.bpmn"
    assert procedures["2.2"].bpmn_default_role == "clerk"
    eng = Engine(tmp_path / "okno.db", procedures=procedures)
    case_id = eng.start("2.2")
    assert {t["acts_as"] for t in eng.open_tasks(case_id)} == {"clerk"}
    done = eng.run_to_end(case_id)
    assert done == ["intake", "check_records", "draft", "decision", "issue"]
    case = eng.case(case_id)
    assert (case["status"], case["outcome"]) == ("completed", "approved")
    assert eng.verify()[1] == []


def test_a_laneless_process_without_a_default_role_is_refused_naming_each_task(tmp_path):
    xml = without_lanes(DRAWN)
    problems = problems_of(catalog(tmp_path, xml))
    unlaned = {re.match(r"userTask '(\w+)'", p.message)[1]: p for p in problems}
    assert set(unlaned) == {"intake", "decision", "issue", "remind", "check_records", "draft"}
    for element, problem in unlaned.items():
        assert problem.line == line_of(xml, f'<bpmn:userTask id="{element}"')
        assert "is in no lane" in problem.message and "default_role" in problem.message


def test_an_undeclared_default_role_is_refused_at_its_yaml_line(tmp_path):
    folder = catalog(tmp_path, without_lanes(DRAWN), {"file": "bpmn/2.2.bpmn", "default_role": "boss"})
    problems = problems_of(folder)
    assert len(problems) == 1
    problem = problems[0]
    text = (folder / "2.2.yaml").read_text(encoding="utf-8")
    assert problem.path.endswith("2.2.yaml") and problem.line == line_of(text, "default_role:")
    assert "'boss' is not a declared role" in problem.message and "clerk, head" in problem.message


# ------------------------------------------------------------------------------------------------
# 3. call activities into other files of the catalog


def _split(xml: str) -> tuple[str, str]:
    """2.2.bpmn as two files: the procedure, and prepare_certificate in bpmn/prepare.bpmn."""
    start = xml.index('  <bpmn:process id="prepare_certificate"')
    end = xml.index("</bpmn:process>", start) + len("</bpmn:process>")
    head = xml[:xml.index("  <bpmn:collaboration")]
    called = head + xml[start:end] + "\n</bpmn:definitions>\n"
    main = xml[:start] + xml[end:]
    main = re.sub(r'\s*<bpmn:participant id="Participant_prepare"[^>]*/>', "", main)
    return main, called


def test_a_call_activity_into_another_catalog_file_runs_to_the_end(tmp_path):
    main, called = _split(DRAWN)
    assert "prepare_certificate\"" not in main.replace('calledElement="prepare_certificate"', "")
    folder = catalog(tmp_path, main, others={"bpmn/prepare.bpmn": called})
    procedures = load_catalog(folder)
    stored = procedures["2.2"].bpmn_xml
    assert '<bpmn:process id="prepare_certificate"' in stored  # the called process is stored
    eng = Engine(tmp_path / "okno.db", procedures=procedures)
    case_id = eng.start("2.2")
    assert eng.run_to_end(case_id) == ["intake", "check_records", "draft", "decision", "issue"]
    case = eng.case(case_id)
    assert (case["status"], case["outcome"]) == ("completed", "approved")
    # A change to the called file is a new version of the procedure.
    (folder / "bpmn" / "prepare.bpmn").write_text(
        called.replace("Оформление справки", "Оформление и проверка справки"), encoding="utf-8")
    assert load_catalog(folder)["2.2"].version != procedures["2.2"].version


def test_a_missing_call_target_is_named_with_its_line_and_the_processes_that_exist(tmp_path):
    main, called = _split(DRAWN)
    main = main.replace('calledElement="prepare_certificate"', 'calledElement="prepare_sertificate"')
    problems = problems_of(catalog(tmp_path, main, others={"bpmn/prepare.bpmn": called}))
    assert len(problems) == 1, [str(p) for p in problems]
    problem = problems[0]
    assert problem.line == line_of(main, '<bpmn:callActivity id="prepare"')
    assert "calls process 'prepare_sertificate'" in problem.message
    assert "processes that exist: prepare_certificate, procedure_2_2" in problem.message


# ------------------------------------------------------------------------------------------------
# 4. several pools

CITIZEN = """  <bpmn:process id="Process_citizen" name="Гражданин" isExecutable="false">
    <bpmn:laneSet id="LaneSet_citizen"><bpmn:lane id="Lane_citizen" /></bpmn:laneSet>
    <bpmn:startEvent id="citizen_start" />
    <bpmn:userTask id="citizen_apply" name="Подать заявление" />
  </bpmn:process>
"""


def _with_citizen_pool(xml: str, executable: str = "false") -> str:
    xml = xml.replace('  <bpmn:process id="procedure_2_2"',
                      CITIZEN.replace('isExecutable="false"', f'isExecutable="{executable}"')
                      + '  <bpmn:process id="procedure_2_2"', 1)
    return xml.replace('<bpmn:participant id="Participant_prepare"',
                       '<bpmn:participant id="Participant_citizen" name="Гражданин" '
                       'processRef="Process_citizen" />\n    <bpmn:participant id="Participant_black_box" '
                       'name="Реестр" />\n    <bpmn:participant id="Participant_prepare"', 1)


def test_a_collaboration_runs_its_one_executable_process(tmp_path):
    folder = catalog(tmp_path, _with_citizen_pool(DRAWN))
    procedures = load_catalog(folder)  # the citizen's unnamed lane and laneless task are not checked
    eng = Engine(tmp_path / "okno.db", procedures=procedures)
    case_id = eng.start("2.2")
    eng.run_to_end(case_id)
    assert eng.case(case_id)["outcome"] == "approved"


def test_two_executable_pools_are_one_problem_naming_both(tmp_path):
    xml = _with_citizen_pool(DRAWN, executable="true")
    problems = [p for p in problems_of(catalog(tmp_path, xml)) if "executable" in p.message]
    assert len(problems) == 1
    assert "more than one executable top-level process" in problems[0].message
    assert "'Process_citizen'" in problems[0].message and "'procedure_2_2'" in problems[0].message


# ------------------------------------------------------------------------------------------------
# 5. bounds before SpiffWorkflow's parser


def _annotated(count: int) -> str:
    notes = "".join(f'<bpmn:textAnnotation id="n{i}" />' for i in range(count))
    return DRAWN.replace("</bpmn:process>", notes + "</bpmn:process>", 1)


def test_a_file_over_the_element_bound_is_refused_before_parsing(tmp_path):
    xml = _annotated(MAX_BPMN_ELEMENTS)
    assert len(xml.encode()) < MAX_BPMN_BYTES
    problems = problems_of(catalog(tmp_path, xml))
    assert len(problems) == 1
    assert f"more than {MAX_BPMN_ELEMENTS} elements" in problems[0].message


def test_a_file_over_the_size_bound_is_refused(tmp_path):
    xml = DRAWN.replace("</bpmn:definitions>", "<!--" + "x" * MAX_BPMN_BYTES + "-->\n</bpmn:definitions>")
    problems = problems_of(catalog(tmp_path, xml))
    assert len(problems) == 1 and f"over the limit of {MAX_BPMN_BYTES}" in problems[0].message
    try:
        check_bpmn(xml, {"clerk", "head"})
    except BpmnError as exc:
        assert f"over the limit of {MAX_BPMN_BYTES}" in str(exc)
    else:
        raise AssertionError("refused expected")
    _, found = validate_files({"2.2.yaml": (ROOT / "procedures" / "2.2.yaml").read_bytes(),
                               "bpmn/2.2.bpmn": xml.encode()})
    assert found and "larger than" in found[0].message


def test_ten_thousand_annotations_still_validate(tmp_path):
    folder = catalog(tmp_path, _annotated(10_000))
    assert list(load_catalog(folder)) == ["2.2"]

