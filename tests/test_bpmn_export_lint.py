"""The BPMN okno exports goes out clean: every procedure's `okno bpmn` passes bpmnlint's
`recommended` rules, imports into bpmn-js without a warning, and its names fit their shapes as
bpmn-js draws them; condition labels are Russian text, not expressions.

bpmnlint comes from tests/js (npm lock, `make` runs `npm ci`), bpmn-js from api/pages/vendor,
chromium from Debian (tests/browser.py). Without the Node tools the lint test is skipped, except
under CI, where that is a failure.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from engine.definition.validation import load_catalog
from engine.process.labels import FALLBACK, condition_title
from engine.process.layout import _SIZE, fits, wrap

ROOT = Path(__file__).resolve().parent.parent
BPMNLINT = ROOT / "tests" / "js" / "node_modules" / ".bin" / "bpmnlint"
VIEWER = ROOT / "api" / "pages" / "vendor" / "node_modules" / "bpmn-js" / "dist" / \
    "bpmn-viewer.production.min.js"
CATALOG = load_catalog(ROOT / "procedures")
NUMBERS = sorted(CATALOG)
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    """Every procedure's BPMN as `okno bpmn NUMBER` prints it, one file each in a temp dir."""
    out = tmp_path_factory.mktemp("bpmn")
    runner = CliRunner()
    files = {}
    for number in NUMBERS:
        result = runner.invoke(app, ["bpmn", number])
        assert result.exit_code == 0, result.output
        files[number] = out / f"{number}.bpmn"
        files[number].write_text(result.output, encoding="utf-8")
    return files


def _need(tool: Path, how: str) -> None:
    if tool.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{tool} is missing: {how}")
    pytest.skip(f"{tool} is missing ({how})")


def test_every_exported_bpmn_passes_bpmnlint_recommended(exported):
    _need(BPMNLINT, "make installs it: npm ci --prefix tests/js")
    folder = next(iter(exported.values())).parent
    (folder / ".bpmnlintrc").write_text(json.dumps({"extends": "bpmnlint:recommended"}))
    names = sorted(p.name for p in exported.values())
    assert len(names) == len(CATALOG) >= 27  # the appeal and remarks-book definitions too
    run = subprocess.run([str(BPMNLINT), *names], cwd=folder, capture_output=True, text=True,
                         timeout=300, check=False)
    assert run.returncode == 0 and "problem" not in run.stdout, run.stdout + run.stderr


def test_a_lint_problem_would_be_reported(exported, tmp_path):
    """The lint run above can fail: an unnamed split gateway (as exported before) is caught."""
    _need(BPMNLINT, "make installs it: npm ci --prefix tests/js")
    text = exported["6.1.1"].read_text(encoding="utf-8")
    (tmp_path / ".bpmnlintrc").write_text(json.dumps({"extends": "bpmnlint:recommended"}))
    (tmp_path / "bad.bpmn").write_text(text.replace(' name="Нужен этот шаг?"', ""), encoding="utf-8")
    run = subprocess.run([str(BPMNLINT), "bad.bpmn"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120, check=False)
    assert run.returncode != 0
    assert "Gateway_split_request_archive" in run.stdout and "label-required" in run.stdout


# In the page: import one BPMN text, and report bpmn-js's warnings and every name whose drawn
# text is larger than its box (tasks: the shape; lanes: the header, text drawn along the lane).
_IMPORT = """async (xml) => {
  document.body.innerHTML = '<div id="canvas" style="width:1600px;height:1000px"></div>';
  const viewer = new BpmnJS({ container: '#canvas' });
  let warnings;
  try {
    warnings = (await viewer.importXML(xml)).warnings.map(w => String(w.message || w));
  } catch (err) {
    return { error: String(err.message || err), warnings: [], overflow: [], checked: 0 };
  }
  const registry = viewer.get('elementRegistry');
  const overflow = [];
  let checked = 0;
  for (const el of registry.getAll()) {
    const text = registry.getGraphics(el).querySelector('text.djs-label');
    if (!text || !el.businessObject.name || el.type === 'label') continue;
    const box = text.getBBox();
    let room = null;
    if (el.type.endsWith('Task')) room = [el.width, el.height];
    else if (el.type === 'bpmn:Lane' || el.type === 'bpmn:Participant') room = [el.height, 30];
    if (!room) continue;
    checked += 1;
    if (box.width > room[0] + 0.5 || box.height > room[1] + 0.5)
      overflow.push(`${el.id}: ${Math.round(box.width)}x${Math.round(box.height)} in ` +
                    `${room[0]}x${room[1]}: ${el.businessObject.name}`);
  }
  viewer.destroy();
  return { error: null, warnings, overflow, checked };
}"""


def test_every_exported_bpmn_imports_into_bpmn_js_without_warnings_and_names_fit(exported, page):
    _need(VIEWER, "make installs it: npm ci --prefix api/pages/vendor")
    page.set_content("<!doctype html><html><body></body></html>")
    page.add_script_tag(path=str(VIEWER))
    problems = {}
    for number, path in exported.items():
        result = page.evaluate(_IMPORT, path.read_text(encoding="utf-8"))
        assert result["error"] is None, f"{number}: {result['error']}"
        assert result["checked"] > 0
        if result["warnings"] or result["overflow"]:
            problems[number] = result["warnings"] + result["overflow"]
    assert not problems, problems


def test_the_import_check_sees_warnings_and_overflow(exported, page):
    """Both checks above can fail: a dangling reference warns, a long task name overflows."""
    _need(VIEWER, "make installs it: npm ci --prefix api/pages/vendor")
    page.set_content("<!doctype html><html><body></body></html>")
    page.add_script_tag(path=str(VIEWER))
    text = exported["6.1.1"].read_text(encoding="utf-8")
    broken = text.replace('bpmnElement="intake"', 'bpmnElement="nowhere"', 1)
    assert page.evaluate(_IMPORT, broken)["warnings"]
    long_name = "Очень длинное название шага " * 6
    title = CATALOG["6.1.1"].step("intake").title
    overflowing = text.replace(f'name="{title}"', f'name="{long_name.strip()}"', 1)
    assert any(o.startswith("intake:") for o in page.evaluate(_IMPORT, overflowing)["overflow"])


def _compiled_roots():
    for number in NUMBERS:
        procedure = CATALOG[number]
        if procedure.steps:
            yield procedure, ET.fromstring(
                CliRunner().invoke(app, ["bpmn", number]).output.encode("utf-8"))


def test_task_and_lane_names_fit_by_the_layout_rule():
    checked = 0
    for procedure, root in _compiled_roots():
        shapes = {s.get("bpmnElement"): s.find("{http://www.omg.org/spec/DD/20100524/DC}Bounds")
                  for s in root.iter("{http://www.omg.org/spec/BPMN/20100524/DI}BPMNShape")}
        for task in root.iter(f"{{{BPMN}}}userTask"):
            b = shapes[task.get("id")]
            name, width = task.get("name"), float(b.get("width"))
            assert fits(name, width, float(b.get("height"))), f"{procedure.number}: {name}"
            assert " ".join(wrap(name, width)).split() == name.split()  # no word cut in two
            checked += 1
        for lane in root.iter(f"{{{BPMN}}}lane"):
            b = shapes[lane.get("id")]
            assert fits(lane.get("name"), float(b.get("height")), 40), lane.get("name")
    assert checked > 100
    assert not fits("слово " * 40, *_SIZE["task"])  # the rule does refuse a long name
    assert wrap("один два три", 10 + 3 * 7.5) == ["оди", "н", "два", "три"]


_EXPRESSION = re.compile(r"==|!=|\b(?:not|and|or)\b|[A-Za-z_]+_[A-Za-z_]+|'")


def test_condition_labels_are_russian_text_not_expressions():
    labelled = 0
    for procedure, root in _compiled_roots():
        for flow in root.iter(f"{{{BPMN}}}sequenceFlow"):
            expression = flow.find(f"{{{BPMN}}}conditionExpression")
            if expression is None:
                continue
            name = flow.get("name")
            assert name and not _EXPRESSION.search(name), f"{procedure.number}: {name!r}"
            if name != "положительное":
                assert re.search("[а-яё]", name, re.I)
                labelled += 1
                if name.endswith("…"):  # shortened: the full text is the flow's documentation
                    doc = flow.find(f"{{{BPMN}}}documentation").text
                    assert doc.startswith(name[:-1]) and not _EXPRESSION.search(doc)
    assert labelled >= 8


def test_condition_titles_come_from_field_and_choice_titles():
    p611, p15 = CATALOG["6.1.1"], CATALOG["1.1.5"]
    assert condition_title(p611, "reason == 'lost'") == "Причина выдачи дубликата: «утрата»"
    assert condition_title(p611, "reason != 'damaged'") == \
        "Причина выдачи дубликата: не «приведение в негодность»"
    assert condition_title(p15, "not brought_housing_certificate") == \
        "нет: Справку о занимаемом жилом помещении и составе семьи гражданин представил сам"
    # Shapes it cannot put into words, unknown fields or values: a neutral Russian label.
    for text in ("len(reason) > 2", "unknown_field", "reason == 'nope'", "reason ==", "a < b"):
        assert condition_title(p611, text) == FALLBACK


def test_a_long_procedure_name_is_cut_to_its_pool_header_and_kept_whole_as_the_process_name():
    from engine.definition.validation import load_catalog
    from engine.process.compile import compile_procedure
    from engine.process.layout import fits, header_label

    name = catalog_name = load_catalog()["6.7"].name
    label = header_label(name, 300)
    assert label.endswith("…") and len(label) < len(name) and fits(label, 300, 40)
    assert name.startswith(label[:-1])
    assert header_label("Регистрация рождения", 300) == "Регистрация рождения"
    xml = compile_procedure(load_catalog()["6.7"])
    assert f'<bpmn:process id="procedure_6_7" name="{catalog_name}"' in xml
