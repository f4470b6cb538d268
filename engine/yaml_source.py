"""Reading YAML defensively, keeping the line and column of every value.

Definitions come from analysts and, through reviews, from anyone who can open a pull request, so
the reader refuses what the safe loader alone lets through: duplicate keys (PyYAML keeps the last
one silently), alias bombs, non-UTF-8 bytes, oversized files and any tag beyond plain data.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

MAX_FILE_BYTES = 256 * 1024
MAX_NODES = 50_000  # values after alias expansion; a real definition has a few hundred
MAX_DEPTH = 100  # levels of nesting; a real definition has about eight

Path = tuple[str | int, ...]

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:timestamp",
}
# Keys whose plain scalars are taken as written: `number: 2.10` must not become the float 2.1.
_VERBATIM_KEYS = {"number"}


class YamlError(ValueError):
    """A file that cannot be read as a definition; line and column are 1-based."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Document:
    """Plain data from one YAML file, and where each value stands in the source."""

    data: Any
    positions: dict[Path, tuple[int, int]]

    def position(self, path: Path) -> tuple[int, int]:
        """Line and column of the value at `path`, or of its nearest ancestor that exists."""
        path = tuple(path)
        while path not in self.positions and path:
            path = path[:-1]
        return self.positions.get(path, (1, 1))


def parse_yaml(raw: bytes) -> Document:
    """Parse one YAML document of plain data, refusing anything hostile with a clear YamlError."""
    if len(raw) > MAX_FILE_BYTES:
        raise YamlError(f"file is {len(raw)} bytes, over the limit of {MAX_FILE_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise YamlError("file is not valid UTF-8", line, column) from None
    text = text.removeprefix("\ufeff")
    try:
        loader = yaml.SafeLoader(text)  # the reader checks for control characters here already
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise YamlError(f"invalid YAML: character #x{exc.character:04x} is not allowed", line,
                        column) from None
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = f"invalid YAML: {exc.problem or exc.context}"
        raise YamlError(message, *_mark(mark)) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"invalid YAML: {exc}") from None
    except RecursionError:  # the composer recurses once per level of nesting
        raise YamlError(f"nesting is deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()
    if node is None:
        raise YamlError("file is empty")
    builder = _Builder(loader)
    data = builder.build(node, ())
    return Document(data, builder.positions)


def _mark(mark: Any) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


class _Builder:
    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.positions: dict[Path, tuple[int, int]] = {}
        self.count = 0

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise YamlError(
                f"more than {MAX_NODES} values after expanding aliases (an alias bomb?)",
                *_mark(node.start_mark),
            )
        if len(path) > MAX_DEPTH:
            raise YamlError(f"nesting is deeper than {MAX_DEPTH} levels", *_mark(node.start_mark))
        if node.tag not in _PLAIN_TAGS:
            raise YamlError(f"tag {node.tag!r} is not allowed: definitions hold plain data only",
                            *_mark(node.start_mark))
        self.positions.setdefault(path, _mark(node.start_mark))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        if path and path[-1] in _VERBATIM_KEYS and len(path) == 1 and node.style is None:
            return node.value
        value = self.loader.construct_object(node)
        if hasattr(value, "isoformat"):  # dates stay text: the schema says what a field holds
            return node.value
        return value

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        key_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlError("merge keys (<<) are not allowed", *_mark(key_node.start_mark))
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _PLAIN_TAGS:
                raise YamlError("mapping keys must be plain text", *_mark(key_node.start_mark))
            key = key_node.value
            if key in result:
                raise YamlError(f"duplicate key {key!r} (first at line {key_lines[key]})",
                                *_mark(key_node.start_mark))
            key_lines[key] = key_node.start_mark.line + 1
            # A list or mapping begins on the line after its key; problems with it point at the key.
            scalar = isinstance(value_node, yaml.ScalarNode)
            self.positions[path + (key,)] = _mark((value_node if scalar else key_node).start_mark)
            result[key] = self.build(value_node, path + (key,))
        return result
