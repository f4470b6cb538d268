"""Reading YAML defensively, keeping the line and column of every value.

Definitions come from analysts and, through reviews, from anyone who can open a pull request, so
the reader refuses what the safe loader alone lets through: duplicate keys (PyYAML keeps the last
one silently), alias bombs, non-UTF-8 bytes, oversized files and any tag beyond plain data.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import yaml

MAX_FILE_BYTES = 256 * 1024
MAX_NODES = 50_000  # values after alias expansion; a real definition has a few hundred
MAX_TEXT_BYTES = 1_000_000  # characters of text after alias expansion (the file is at most 256 KB)
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
    bad = _NON_PRINTABLE.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        raise YamlError(f"invalid YAML: character #x{ord(bad.group()):04x} is not allowed",
                        line, column)
    try:
        builder = _build(_Loader, text)
    except yaml.YAMLError as exc:
        if _Loader is yaml.SafeLoader:
            raise _yaml_error(exc) from None
        # libyaml has limits and wordings of its own (PyYAML 6.0.4's refuses deep nesting before
        # okno's builder sees it): the pure-Python reader, which has none, tells what is wrong in
        # okno's terms. Only files that fail pay for the second reading.
        try:
            builder = _build(yaml.SafeLoader, text)
        except yaml.YAMLError as again:
            raise _yaml_error(again) from None
    return Document(builder.data, builder.positions)


def _build(loader_class: Any, text: str) -> _Builder:
    loader = loader_class(text)
    try:
        builder = _Builder(loader)
        builder.data = builder.document()
        return builder
    finally:
        loader.dispose()


def _yaml_error(exc: yaml.YAMLError) -> YamlError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        return YamlError(f"invalid YAML: {exc.problem or exc.context}", *_mark(mark))
    return YamlError(f"invalid YAML: {exc}")


# libyaml when PyYAML was built with it: the same events, several times faster.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE
_STR = "tag:yaml.org,2002:str"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"


def _mark(mark: Any) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


class _Builder:
    """Plain data straight from the parser's events, without PyYAML's composer.

    The composer recurses once per level of nesting (a file of `[[[[...` overflows the stack, and
    libyaml's composer crashes the process), so the data is built here with the depth bounded.
    An alias replays the events of its anchored value: what it expands to counts against
    MAX_NODES, which stops alias bombs.
    """

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.data: Any = None
        self.positions: dict[Path, tuple[int, int]] = {}
        self.count = 0
        self.text_bytes = 0
        self.anchors: dict[str, list[yaml.Event]] = {}
        self.recording: list[tuple[str, list[yaml.Event]]] = []  # anchored values being read
        self.replay: list[Any] = []  # iterators over the events of aliased values

    def document(self) -> Any:
        self._next(yaml.StreamStartEvent)
        event = self._next()
        if isinstance(event, yaml.StreamEndEvent):
            raise YamlError("file is empty")
        data = self._node(self._next(), ())
        self._next(yaml.DocumentEndEvent)
        event = self._next()
        if not isinstance(event, yaml.StreamEndEvent):
            raise YamlError("invalid YAML: expected a single document, but found another",
                            *_mark(event.start_mark))
        return data

    def _next(self, expected: type | None = None) -> yaml.Event:
        while self.replay:
            event = next(self.replay[-1], None)
            if event is not None:
                return event
            self.replay.pop()
        event = self.loader.get_event()
        for _, events in self.recording:
            events.append(event)
        if expected is not None and not isinstance(event, expected):  # the parser ensures it
            raise YamlError(f"invalid YAML: unexpected {type(event).__name__}",
                            *_mark(event.start_mark))
        return event

    def _deref(self, event: yaml.Event) -> yaml.Event:
        """The first event of the value at hand: an alias is replaced by what it names."""
        if not isinstance(event, yaml.AliasEvent):
            return event
        if any(name == event.anchor for name, _ in self.recording):
            raise YamlError(f"alias *{event.anchor} refers to the value that contains it",
                            *_mark(event.start_mark))
        if event.anchor not in self.anchors:
            raise YamlError(f"invalid YAML: alias *{event.anchor} is not defined",
                            *_mark(event.start_mark))
        events = self.anchors[event.anchor]
        self.replay.append(iter(events[1:]))
        return events[0]

    def _anchor(self, event: yaml.Event) -> None:
        """Start keeping the events of an anchored value (read for the first time)."""
        if event.anchor is None or self.replay:
            return
        if event.anchor in self.anchors or any(n == event.anchor for n, _ in self.recording):
            raise YamlError(f"anchor &{event.anchor} is defined twice", *_mark(event.start_mark))
        if isinstance(event, yaml.ScalarEvent):
            self.anchors[event.anchor] = [event]
        else:
            self.recording.append((event.anchor, [event]))

    def _node(self, event: yaml.Event, path: Path) -> Any:
        event = self._deref(event)
        self.count += 1
        if self.count > MAX_NODES:
            raise YamlError(
                f"more than {MAX_NODES} values after expanding aliases (an alias bomb?)",
                *_mark(event.start_mark),
            )
        if len(path) > MAX_DEPTH:
            raise YamlError(f"nesting is deeper than {MAX_DEPTH} levels", *_mark(event.start_mark))
        self.positions.setdefault(path, _mark(event.start_mark))
        if isinstance(event, yaml.ScalarEvent):
            self._anchor(event)
            return self._scalar(event, path)
        if isinstance(event, yaml.MappingStartEvent):
            self._check_collection_tag(event, yaml.MappingNode)
            self._anchor(event)
            value: Any = self._mapping(path)
        elif isinstance(event, yaml.SequenceStartEvent):
            self._check_collection_tag(event, yaml.SequenceNode)
            self._anchor(event)
            value = []
            while not isinstance(item := self._next(), yaml.SequenceEndEvent):
                value.append(self._node(item, path + (len(value),)))
        else:  # the parser never yields anything else here
            raise YamlError(f"invalid YAML: unexpected {type(event).__name__}",
                            *_mark(event.start_mark))
        if self.recording and self.recording[-1][1][0] is event and not self.replay:
            name, events = self.recording.pop()
            self.anchors[name] = events
        return value

    def _check_collection_tag(self, event: yaml.Event, kind: type) -> None:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(kind, None, event.implicit)
        if tag not in _PLAIN_TAGS:
            raise YamlError(f"tag {tag!r} is not allowed: definitions hold plain data only",
                            *_mark(event.start_mark))

    def _resolve(self, event: yaml.ScalarEvent) -> str:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        return tag

    def _scalar(self, event: yaml.ScalarEvent, path: Path) -> Any:
        self.text_bytes += len(event.value)
        if self.text_bytes > MAX_TEXT_BYTES:  # aliases can repeat a long text many times
            raise YamlError(f"more than {MAX_TEXT_BYTES} characters of text after expanding aliases",
                            *_mark(event.start_mark))
        tag = self._resolve(event)
        if tag not in _PLAIN_TAGS:
            raise YamlError(f"tag {tag!r} is not allowed: definitions hold plain data only",
                            *_mark(event.start_mark))
        if tag in (_STR, _TIMESTAMP):  # dates stay text: the schema says what a field holds
            return event.value
        if len(path) == 1 and path[0] in _VERBATIM_KEYS and not event.style:  # plain style
            return event.value
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        value = self.loader.yaml_constructors[tag](self.loader, node)
        if isinstance(value, float) and not math.isfinite(value):
            raise YamlError(f"{event.value!r} is not a finite number", *_mark(event.start_mark))
        return value

    def _mapping(self, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        key_lines: dict[str, int] = {}
        while not isinstance(key_event := self._next(), yaml.MappingEndEvent):
            if not isinstance(key_event, yaml.ScalarEvent):
                raise YamlError("mapping keys must be plain text", *_mark(key_event.start_mark))
            tag = self._resolve(key_event)
            if tag == _MERGE:
                raise YamlError("merge keys (<<) are not allowed", *_mark(key_event.start_mark))
            if tag not in _PLAIN_TAGS or key_event.anchor is not None:
                raise YamlError("mapping keys must be plain text", *_mark(key_event.start_mark))
            key = key_event.value
            if key in result:
                raise YamlError(f"duplicate key {key!r} (first at line {key_lines[key]})",
                                *_mark(key_event.start_mark))
            key_lines[key] = key_event.start_mark.line + 1
            value_event = self._deref(self._next())
            # A list or mapping begins on the line after its key; problems with it point at the key.
            scalar = isinstance(value_event, yaml.ScalarEvent)
            self.positions[path + (key,)] = _mark((value_event if scalar else key_event).start_mark)
            result[key] = self._node(value_event, path + (key,))
        return result
