"""The defensive YAML reader: plain data with positions in, anything hostile out with a line."""
from __future__ import annotations

import pytest
import yaml

from engine.definition import yaml_source
from engine.definition.yaml_source import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, YamlError, parse_yaml

LOADERS = [yaml.SafeLoader] + ([yaml.CSafeLoader] if hasattr(yaml, "CSafeLoader") else [])


@pytest.fixture(autouse=True, params=LOADERS, ids=lambda loader: loader.__name__)
def loader(request, monkeypatch):
    """Every test runs on PyYAML's pure-Python parser and, where built, on libyaml."""
    monkeypatch.setattr(yaml_source, "_Loader", request.param)
    return request.param


def refused(raw: bytes | str) -> YamlError:
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    with pytest.raises(YamlError) as info:
        parse_yaml(raw)
    return info.value


# --- plain data is read, with the position of every value ------------------------------------

NESTED = """\
# a comment
title: Выдача
steps:
  - id: intake
    fields:
      - id: reason
        required: true
  - id: decision
    term: "15 days"
flags: [a, b]
count: 3
ratio: 0.5
nothing: ~
"""


def test_plain_data_parses():
    doc = parse_yaml(NESTED.encode())
    assert doc.data == {
        "title": "Выдача",
        "steps": [
            {"id": "intake", "fields": [{"id": "reason", "required": True}]},
            {"id": "decision", "term": "15 days"},
        ],
        "flags": ["a", "b"],
        "count": 3,
        "ratio": 0.5,
        "nothing": None,
    }


@pytest.mark.parametrize(
    ("path", "position"),
    [
        (("title",), (2, 8)),  # a scalar: where the value stands
        (("steps",), (3, 1)),  # a block list: its key (the value starts on the next line)
        (("steps", 0), (4, 5)),  # an item: where the item starts
        (("steps", 0, "id"), (4, 9)),
        (("steps", 0, "fields"), (5, 5)),
        (("steps", 0, "fields", 0, "id"), (6, 13)),
        (("steps", 0, "fields", 0, "required"), (7, 19)),
        (("steps", 1, "term"), (9, 11)),
        (("flags", 1), (10, 12)),
        (("count",), (11, 8)),
    ],
)
def test_positions_of_nested_values(path, position):
    doc = parse_yaml(NESTED.encode())
    assert doc.position(path) == position


def test_position_of_a_missing_path_is_its_nearest_ancestor():
    doc = parse_yaml(NESTED.encode())
    assert doc.position(("steps", 0, "fields", 0, "nope", 3)) == (6, 9)
    assert doc.position(("nope",)) == (2, 1)  # the document itself


def test_number_is_kept_as_written():
    assert parse_yaml(b"number: 2.10\n").data == {"number": "2.10"}
    assert parse_yaml(b"number: 6.1.1\n").data == {"number": "6.1.1"}
    assert parse_yaml(b'number: "2.10"\n').data == {"number": "2.10"}
    assert parse_yaml(b"ratio: 2.10\n").data == {"ratio": 2.1}  # only `number` is verbatim


def test_dates_stay_text():
    assert parse_yaml(b"day: 2025-06-18\n").data == {"day": "2025-06-18"}


def test_bom_is_accepted():
    doc = parse_yaml(b"\xef\xbb\xbfa: 1\nb: 2\n")
    assert doc.data == {"a": 1, "b": 2}
    assert doc.position(("b",)) == (2, 4)


def test_a_legitimate_small_alias_is_accepted():
    doc = parse_yaml(b"base: &b {x: 1, y: [2, 3]}\nother: *b\n")
    assert doc.data == {"base": {"x": 1, "y": [2, 3]}, "other": {"x": 1, "y": [2, 3]}}
    assert doc.data["other"] is not doc.data["base"]


# --- hostile or broken input is refused with a clear message and the right line ---------------

def test_python_object_tag_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    err = refused(f'a: 1\nb: !!python/object/apply:os.system ["touch {marker}"]\n')
    assert "python/object/apply:os.system" in err.message
    assert "not allowed" in err.message
    assert (err.line, err.column) == (2, 4)
    assert not marker.exists()


@pytest.mark.parametrize("tag", ["!!python/name:os.system", "!!python/tuple", "!!binary", "!!set"])
def test_other_non_plain_tags_are_refused(tag):
    err = refused(f"a: 1\n\nb: {tag} x\n")
    assert "not allowed" in err.message
    assert err.line == 3


def test_custom_tag_is_refused():
    err = refused("a: 1\nb:\n  c: !foo bar\n")
    assert "'!foo'" in err.message
    assert (err.line, err.column) == (3, 6)


@pytest.mark.parametrize("key", ["!foo bar", "!!python/name:os.system"])
def test_a_tag_on_a_key_is_refused(key):
    err = refused(f"a: 1\n{key} : 2\n")
    assert "keys must be plain text" in err.message
    assert err.line == 2


def test_an_alias_as_key_is_refused():
    err = refused("a: &k key\n*k : 2\n")
    assert "keys must be plain text" in err.message
    assert err.line == 2


def test_column_counts_characters_not_bytes():
    doc = parse_yaml("a: [Выдача, справки]\n".encode())
    assert doc.position(("a", 1)) == (1, 13)


def test_complex_key_is_refused():
    err = refused("a: 1\n? [x, y]\n: 2\n")
    assert "keys must be plain text" in err.message
    assert err.line == 2


def test_billion_laughs_is_refused():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    err = refused("\n".join(lines) + "\n")
    assert "alias bomb" in err.message
    assert str(MAX_NODES) in err.message
    assert 1 <= err.line <= 9


@pytest.mark.parametrize("text", ["a: 1\nb: &x [*x]\n", "a: 1\nb: &x\n  c: [1, {d: *x}]\n"])
def test_recursive_alias_is_refused(text):
    err = refused(text)
    assert "alias *x refers to the value that contains it" in err.message
    assert err.line in (2, 3)


def test_an_anchor_defined_twice_is_refused():
    err = refused("a: &x 1\nb: &x 2\nc: *x\n")
    assert "&x is defined twice" in err.message
    assert err.line == 2


def test_nested_aliases_expand():
    doc = parse_yaml(b"a: &a [1, 2]\nb: &b {x: *a, y: *a}\nc: [*b, *a]\n")
    assert doc.data["c"] == [{"x": [1, 2], "y": [1, 2]}, [1, 2]]
    assert doc.position(("c", 0, "x", 1)) == (1, 11)  # where the aliased value was written


@pytest.mark.parametrize("levels", [MAX_DEPTH + 5, 5_000])
def test_deep_nesting_is_refused(levels):
    err = refused("a: " + "[" * levels + "]" * levels + "\n")
    assert "nesting is deeper than" in err.message
    assert err.line == 1


def test_merge_key_is_refused():
    err = refused("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n")
    assert "merge keys" in err.message
    assert (err.line, err.column) == (3, 3)


def test_duplicate_key_is_refused_naming_the_first_line():
    err = refused("a: 1\nb: 2\nc: 3\nb: 4\n")
    assert "duplicate key 'b'" in err.message
    assert "first at line 2" in err.message
    assert (err.line, err.column) == (4, 1)


def test_duplicate_block_key_names_the_line_of_the_first_key():
    err = refused("a: 1\nfee:\n  kind: free\nb: 2\nfee:\n  kind: base_units\n")
    assert "duplicate key 'fee' (first at line 2)" in err.message
    assert err.line == 5


def test_duplicate_key_in_a_nested_mapping():
    err = refused("steps:\n  - id: a\n    title: x\n    id: b\n")
    assert "duplicate key 'id' (first at line 2)" in err.message
    assert (err.line, err.column) == (4, 5)


def test_non_utf8_bytes_are_refused_at_the_bad_byte():
    err = refused(b"a: ok\nb: caf\xe9\n")
    assert "UTF-8" in err.message
    assert (err.line, err.column) == (2, 7)


def test_windows_1251_text_is_refused():
    err = refused("name: Выдача\n".encode("cp1251"))
    assert "UTF-8" in err.message
    assert (err.line, err.column) == (1, 7)


def test_control_character_is_refused_with_its_position():
    err = refused(b"a: 1\nb: x\x01y\n")
    assert "#x0001" in err.message
    assert (err.line, err.column) == (2, 5)


def test_oversized_file_is_refused():
    raw = b"a: " + b"x" * MAX_FILE_BYTES + b"\n"
    err = refused(raw)
    assert "over the limit" in err.message
    assert str(MAX_FILE_BYTES) in err.message
    assert err.line == 1


def test_a_file_just_under_the_limit_is_read():
    raw = b"a: " + b"x" * (MAX_FILE_BYTES - 10) + b"\n"
    assert len(parse_yaml(raw).data["a"]) == MAX_FILE_BYTES - 10


@pytest.mark.parametrize("raw", [b"", b"   \n\n", b"# only a comment\n", b"\xef\xbb\xbf"])
def test_empty_file_is_refused(raw):
    err = refused(raw)
    assert err.message == "file is empty"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: 1\nb: [1, 2\nc: 3\n", 3),  # unclosed flow list
        ("a: 1\nb: c: d\n", 2),  # mapping value where none may be
        ("a: 1\nb:\n\t- x\n", 3),  # a tab for indentation
        ('a: 1\nb: "unterminated\n', 3),
        ("a: 1\n---\nb: 2\n", 2),  # two documents
        ("a: 1\nb: *nowhere\n", 2),  # undefined alias
    ],
)
def test_invalid_yaml_is_refused_with_its_line(text, line):
    err = refused(text)
    assert err.message.startswith("invalid YAML:")
    assert err.line == line


def test_yaml_error_is_a_value_error_with_the_message():
    err = refused(b"")
    assert isinstance(err, ValueError)
    assert str(err) == "file is empty"


@pytest.mark.parametrize("text", [".nan", ".inf", "-.inf", ".NaN"])
def test_non_finite_numbers_are_refused(text):
    err = refused(f"fee:\n  base_units: {text}\n")
    assert "finite" in err.message and err.line == 2


def test_long_text_repeated_by_aliases_is_refused():
    long = "x" * 20_000
    lines = [f"a: &a {long}", "b: [" + ", ".join(["*a"] * 60) + "]"]
    err = refused("\n".join(lines) + "\n")
    assert "characters of text" in err.message
