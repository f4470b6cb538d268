"""Safe expressions: the only way a definition's text is ever evaluated.

Conditions (`applicant_category == 'foreign' and not has_exemption`), timer texts (`"P2D"`),
computed values and BPMN script tasks are *data*, written by analysts. They never reach Python's
`eval`/`exec`. Text is parsed once with `ast.parse`, every node is checked against a whitelist
(no dunders, no attribute access except a few string methods, no lambdas, comprehensions or
imports, calls only to a fixed set of pure functions, bounded length and depth), and the checked
tree is evaluated by `simpleeval` with explicit size limits on `**`, `*` and `+`. Every value an
expression or a script produces is then measured (items, text, nesting; shared parts counted each
time they appear) and what a script writes into task data must be storable as JSON (finite floats,
integers within ±2**53).

`SafeScriptEngine` plugs the same evaluator into SpiffWorkflow, replacing the default
`PythonScriptEngine`, whose environment calls plain `eval`/`exec`.
"""

from __future__ import annotations

import ast
import datetime as _dt
import functools
import math
import re
import textwrap
import threading
import types
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import simpleeval
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import BasePythonScriptEngineEnvironment, PythonScriptEngine
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_EXPRESSION_LENGTH",
    "MAX_INT_BITS",
    "MAX_SCRIPT_LENGTH",
    "MAX_SCRIPT_STATEMENTS",
    "MAX_SEQUENCE_LENGTH",
    "MAX_STORED_INT",
    "MAX_VALUE_DEPTH",
    "MAX_VALUE_ITEMS",
    "MAX_VALUE_TEXT",
    "METHODS",
    "Expression",
    "ExpressionError",
    "SafeEnvironment",
    "SafeScriptEngine",
    "Script",
    "compile_expression",
    "compile_script",
    "evaluate",
]

# --------------------------------------------------------------------------------------------
# Limits. Generous for administrative rules, small enough that no text can hog CPU or memory.

MAX_EXPRESSION_LENGTH = 2_000  # characters in one expression
MAX_DEPTH = 50  # nesting of the syntax tree
MAX_SCRIPT_LENGTH = 20_000  # characters in one script task
MAX_SCRIPT_STATEMENTS = 200  # assignments in one script task
MAX_SEQUENCE_LENGTH = 100_000  # length of a string/list built by `*` or `+`
MAX_INT_BITS = 4_096  # size of an integer built by `*`, `**` or int() (~1,230 decimal digits)
MAX_ROUND_DIGITS = 100  # |ndigits| of round(): round(5, -10**7) takes as long as 10**10**7
# Every value an expression gives or a script assigns, counting shared parts each time they
# appear (`a = [a, a]` doubles): 23 such lines make a value of 16 million items from 24 objects.
MAX_VALUE_ITEMS = 100_000  # items: every list/tuple/set/dict, element, key and scalar
MAX_VALUE_TEXT = 1_000_000  # characters of text in all its strings together
MAX_VALUE_DEPTH = 50  # nesting of lists/tuples/sets/dicts
# What a script writes into task data is stored as JSON: orjson writes NaN/inf as null and refuses
# integers beyond 64 bits; 2**53 is exact everywhere (JavaScript clients included).
MAX_STORED_INT = 2**53


class ExpressionError(ValueError):
    """An expression or script was refused or failed to evaluate.

    `reason` says what is wrong in words an analyst understands, `expression` is the offending
    text, `name` the unknown variable (if that was the problem), `line` the script line.
    """

    def __init__(
        self,
        reason: str,
        expression: str | None = None,
        *,
        name: str | None = None,
        line: int | None = None,
    ):
        self.reason = reason
        self.expression = expression
        self.name = name
        self.line = line
        super().__init__(reason)

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        if self.expression is None:
            return f"{where}{self.reason}"
        return f"{where}{self.reason} (in expression {_snippet(self.expression)})"


def _snippet(text: str, limit: int = 120) -> str:
    text = text.strip()
    if len(text) > limit:
        text = text[:limit] + f"… [{len(text)} characters]"
    return repr(text)


# --------------------------------------------------------------------------------------------
# Functions and methods expressions may call. All pure, all cheap on bounded input.


def _date(value: Any, month: int | None = None, day: int | None = None) -> _dt.date:
    """`date('2024-05-31')`, `date(2024, 5, 31)`, or the date part of a date/datetime."""
    if month is not None or day is not None:
        return _dt.date(int(value), int(month), int(day))
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return _dt.date.fromisoformat(text[:10])
        except ValueError:
            raise ExpressionError(f"date(): {value!r} is not an ISO date (YYYY-MM-DD)") from None
    raise ExpressionError(f"date(): cannot make a date from {type(value).__name__}")


def _days_between(start: Any, end: Any) -> int:
    """Calendar days from `start` to `end` (negative if end is earlier)."""
    return (_date(end) - _date(start)).days


_SCALARS = (str, int, float, bool, type(None), _dt.date)


def _str(value: Any = "") -> str:
    # Only scalars: str() of a container could build a huge text from a small expression.
    if not isinstance(value, _SCALARS):
        raise ExpressionError(f"str() accepts text, numbers, booleans, dates or None, "
                              f"not {type(value).__name__}")
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float))  # bool is an int: sum([True, False]) counts


def _sum(values: Any, /, start: Any = 0) -> Any:
    # Numbers only: sum([l, l, ...], []) would concatenate lists past the '+' size check.
    if not _is_number(start):
        raise ExpressionError(f"sum() adds numbers only; start must be a number, "
                              f"not {type(start).__name__}")
    if not isinstance(values, (list, tuple, set, frozenset)):
        raise ExpressionError(f"sum() needs a list of numbers, not {type(values).__name__}")
    for item in values:
        if not _is_number(item):
            raise ExpressionError(f"sum() adds numbers only, not {type(item).__name__} "
                                  f"(use '+' to join texts or lists)")
    return sum(values, start)


def _round(number: Any, ndigits: Any = None) -> Any:
    if not _is_number(number):
        raise ExpressionError(f"round() needs a number, not {type(number).__name__}")
    if ndigits is None:
        return round(number)
    if not isinstance(ndigits, int) or isinstance(ndigits, bool):
        raise ExpressionError(f"round(): the number of digits must be an integer, "
                              f"not {type(ndigits).__name__}")
    if abs(ndigits) > MAX_ROUND_DIGITS:
        raise ExpressionError(f"round(): the number of digits must be between "
                              f"-{MAX_ROUND_DIGITS} and {MAX_ROUND_DIGITS}")
    return round(number, ndigits)


def _int(value: Any = 0, /, base: Any = None) -> int:
    result = int(value) if base is None else int(value, base)
    if result.bit_length() > MAX_INT_BITS:
        raise ExpressionError(f"number too large: int() would give more than {MAX_INT_BITS} bits")
    return result


def _float(value: Any = 0.0, /) -> float:
    # Numbers and numeric text only, and never inf/nan ('inf', 'nan', '1e999', 10**400).
    if not isinstance(value, (int, float, str)):
        raise ExpressionError(f"float() accepts numbers or numeric text, "
                              f"not {type(value).__name__}")
    try:
        result = float(value)
    except OverflowError:
        raise ExpressionError("float(): number too large for a floating-point value") from None
    except ValueError:
        raise ExpressionError(f"float(): {_snippet(value, 40)} is not a number") from None
    if not math.isfinite(result):
        raise ExpressionError(f"float(): {_snippet(str(value), 40)} is not a finite number "
                              f"(infinity and NaN are not allowed)")
    return result


FUNCTIONS: Mapping[str, Any] = {
    "len": len,
    "min": min,
    "max": max,
    "sum": _sum,
    "abs": abs,
    "round": _round,
    "int": _int,
    "float": _float,
    "str": _str,
    "bool": bool,
    "any": any,
    "all": all,
    "date": _date,
    "days_between": _days_between,
}

# Methods callable as `value.method(...)`, by the exact type of `value`. Nothing that can grow a
# string (`center`, `zfill`, `join`, `replace`, `format`) is listed.
METHODS: Mapping[type, frozenset[str]] = {
    str: frozenset({
        "lower", "upper", "casefold", "title", "capitalize",
        "strip", "lstrip", "rstrip", "startswith", "endswith",
        "isdigit", "isdecimal", "isalpha", "isalnum", "isspace",
        "count", "find", "split",
    }),
    dict: frozenset({"get"}),
}
_METHOD_NAMES = frozenset().union(*METHODS.values())


# --------------------------------------------------------------------------------------------
# Operators with explicit limits (simpleeval's own module-wide defaults are not relied upon).


def _int_like(x: Any) -> bool:
    return isinstance(x, int)  # bool is an int, which is fine


def _safe_pow(a: Any, b: Any) -> Any:
    if (_int_like(a) and _int_like(b) and b > 0 and abs(a) > 1
            and (b > MAX_INT_BITS or abs(a).bit_length() * b > MAX_INT_BITS)):
        raise ExpressionError(f"number too large: refusing to compute a power with "
                              f"more than {MAX_INT_BITS} bits")
    try:
        result = a**b
    except OverflowError:
        raise ExpressionError("number too large for a floating-point value") from None
    if isinstance(result, complex):
        raise ExpressionError("a negative number to a fractional power has no real result")
    return result


def _safe_mult(a: Any, b: Any) -> Any:
    if _int_like(a) and _int_like(b):
        if abs(a).bit_length() + abs(b).bit_length() > MAX_INT_BITS:
            raise ExpressionError(f"number too large: refusing a product with more than "
                                  f"{MAX_INT_BITS} bits")
        return a * b
    for seq, n in ((a, b), (b, a)):
        if isinstance(seq, (list, tuple, dict, set)) and _int_like(n):
            raise ExpressionError("repeating a list with '*' is not allowed")
        if isinstance(seq, str) and _int_like(n) and len(seq) * n > MAX_SEQUENCE_LENGTH:
            raise ExpressionError(f"text too long: repeating would exceed "
                                  f"{MAX_SEQUENCE_LENGTH} characters")
    return a * b


def _safe_add(a: Any, b: Any) -> Any:
    if (isinstance(a, (str, list, tuple)) and isinstance(b, (str, list, tuple))
            and len(a) + len(b) > MAX_SEQUENCE_LENGTH):
        raise ExpressionError(f"result too long: more than {MAX_SEQUENCE_LENGTH} items")
    return a + b


def _safe_mod(a: Any, b: Any) -> Any:
    if isinstance(a, str):  # printf-style formatting can pad to any width
        raise ExpressionError("'%' formatting of text is not allowed")
    return a % b


_OPERATORS: dict[type, Any] = {
    ast.Add: _safe_add,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: _safe_mult,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: _safe_mod,
    ast.Pow: _safe_pow,
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: lambda a, b: a is b,
    ast.IsNot: lambda a, b: a is not b,
    ast.Not: lambda a: not a,
    ast.USub: lambda a: -a,
    ast.UAdd: lambda a: +a,
}

# --------------------------------------------------------------------------------------------
# Compile-time validation.

_ALLOWED_NODES: tuple[type, ...] = (
    ast.Expression, ast.Constant, ast.Name, ast.Load,
    ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.BinOp, ast.Compare, ast.IfExp,
    ast.Call, ast.keyword, ast.Attribute, ast.Subscript, ast.Slice,
    ast.List, ast.Tuple, ast.Set, ast.Dict, ast.JoinedStr, ast.FormattedValue,
    *_OPERATORS,
)

_REFUSED_WHY: dict[type, str] = {
    ast.Lambda: "lambda functions are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "generator expressions are not allowed",
    ast.NamedExpr: "assignment expressions (:=) are not allowed",
    ast.Starred: "star-unpacking (*x) is not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.MatMult: "the '@' operator is not allowed",
    ast.BitAnd: "bitwise operators are not allowed",
    ast.BitOr: "bitwise operators are not allowed",
    ast.BitXor: "bitwise operators are not allowed",
    ast.Invert: "bitwise operators are not allowed",
    ast.LShift: "shift operators are not allowed",
    ast.RShift: "shift operators are not allowed",
}

_ISO_LIKE = re.compile(r"P(?=[0-9YMWDTHS.,]*\d)[0-9YMWDTHS.,]+")  # P2D, PT0S, P1Y2M…


def _dunder(name: str) -> bool:
    return name.startswith("__")


def _validate(tree: ast.AST, text: str) -> frozenset[str]:
    """Check every node of `tree` against the whitelist; return the free variable names."""
    # Dunders first, wherever they are: the most telling reason for refusing `__import__(…).x`.
    for node in ast.walk(tree):
        ident = (node.id if isinstance(node, ast.Name) else node.attr
                 if isinstance(node, ast.Attribute) else node.arg
                 if isinstance(node, ast.keyword) else None)
        if ident is not None and _dunder(ident):
            raise ExpressionError(f"'{ident}' is not allowed (names starting with '__' are "
                                  f"reserved)", text)

    names: set[str] = set()
    call_targets: set[int] = set()  # ids of Name/Attribute nodes that are a Call's function
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExpressionError(f"expression is nested too deeply (more than {MAX_DEPTH} "
                                  f"levels)", text)
        if not isinstance(node, _ALLOWED_NODES):
            why = _REFUSED_WHY.get(type(node), f"{type(node).__name__} is not allowed")
            raise ExpressionError(why, text)

        if isinstance(node, ast.Constant):
            if not isinstance(node.value, (str, int, float, bool, type(None))):
                raise ExpressionError(f"literal of type {type(node.value).__name__} is not "
                                      f"allowed", text)
            if isinstance(node.value, float) and not math.isfinite(node.value):
                raise ExpressionError("number literal too large (it would be infinite)", text)
            if isinstance(node.value, int) and node.value.bit_length() > MAX_INT_BITS:
                raise ExpressionError(f"number too large: integer literal of more than "
                                      f"{MAX_INT_BITS} bits", text)
        elif isinstance(node, ast.Name):
            if not isinstance(node.ctx, ast.Load):
                raise ExpressionError("assignment is not allowed in an expression", text)
            if id(node) not in call_targets:
                names.add(node.id)
        elif isinstance(node, ast.Attribute):
            if id(node) not in call_targets or node.attr not in _METHOD_NAMES:
                raise ExpressionError(
                    f"attribute access '.{node.attr}' is not allowed (only text methods such "
                    f"as .lower(), .strip(), .startswith(); use value['key'] for fields)", text)
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                if func.id not in FUNCTIONS:
                    raise ExpressionError(f"calling '{func.id}' is not allowed; allowed "
                                          f"functions: {', '.join(sorted(FUNCTIONS))}", text)
            elif isinstance(func, ast.Attribute):
                pass  # checked when the Attribute node is visited
            elif isinstance(func, ast.Lambda):
                raise ExpressionError(_REFUSED_WHY[ast.Lambda], text)
            else:
                raise ExpressionError("only named functions can be called", text)
            call_targets.add(id(func))
            for kw in node.keywords:
                if kw.arg is None:
                    raise ExpressionError("keyword unpacking (**x) is not allowed", text)
        elif isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                raise ExpressionError("dict unpacking (**x) is not allowed", text)
        elif isinstance(node, (ast.List, ast.Tuple, ast.Subscript)):
            if not isinstance(node.ctx, ast.Load):
                raise ExpressionError("assignment is not allowed in an expression", text)
        elif isinstance(node, ast.FormattedValue) and (node.conversion != -1
                                                       or node.format_spec is not None):
            raise ExpressionError("f-string conversions and format specs ({x!r}, {x:10}) "
                                  "are not allowed; use plain {x}", text)

        children = list(ast.iter_child_nodes(node))
        stack.extend((child, depth + 1) for child in reversed(children))  # left to right
    return frozenset(names)


def _parse(text: str, mode: str, limit: int) -> ast.AST:
    if not isinstance(text, str):
        raise ExpressionError(f"expression must be text, not {type(text).__name__}")
    if len(text) > limit:
        raise ExpressionError(f"too long: {len(text)} characters, the limit is {limit}", text)
    source = text.strip() if mode == "eval" else textwrap.dedent(text)
    if mode == "eval" and not source:
        raise ExpressionError("expression is empty", text)
    try:
        return ast.parse(source, mode=mode)
    except SyntaxError as exc:
        line = exc.lineno if mode == "exec" else None
        raise ExpressionError(f"syntax error: {exc.msg}", text, line=line) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ExpressionError(f"cannot parse: {exc.__class__.__name__}", text) from None


# --------------------------------------------------------------------------------------------
# Size and storability of produced values.

_CONTAINERS = (list, tuple, set, frozenset, dict)
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class _Budget:
    """Items and characters left for the values being measured (one result, or a whole script)."""

    __slots__ = ("items", "text")

    def __init__(self) -> None:
        self.items = MAX_VALUE_ITEMS
        self.text = MAX_VALUE_TEXT


def _check_values(values: Any, *, storable: bool) -> None:
    """Refuse values that are too big or deep, non-finite floats and, if `storable`, what task
    data cannot hold (integers beyond ±2**53, text with lone surrogates).

    Iterative, and it stops at the first limit: shared references are counted every time they
    appear, so a value of 2**24 items built from 24 objects costs 100,000 steps, not 16 million.
    """
    budget = _Budget()  # shared by all of `values`
    stack: list[tuple[Any, int]] = [(value, 0) for value in values]
    while stack:
        value, depth = stack.pop()
        budget.items -= 1
        if budget.items < 0:
            raise ExpressionError(f"value too large: more than {MAX_VALUE_ITEMS:,} items (parts "
                                  f"that appear several times count each time)")
        if isinstance(value, str):
            budget.text -= len(value)
            if budget.text < 0:
                raise ExpressionError(f"value too large: more than {MAX_VALUE_TEXT:,} characters "
                                      f"of text")
            if storable and _SURROGATE.search(value):
                raise ExpressionError("text with a lone surrogate character (\\ud800-\\udfff) "
                                      "cannot be stored")
        elif isinstance(value, bool):
            pass
        elif isinstance(value, float):
            if not math.isfinite(value):
                kind = "NaN (not a number)" if math.isnan(value) else "an infinite number"
                raise ExpressionError(f"the result is {kind}; only finite numbers are allowed")
        elif isinstance(value, int):
            if storable and abs(value) > MAX_STORED_INT:
                raise ExpressionError(f"an integer of {value.bit_length()} bits is too large to "
                                      f"store in task data (the limit is ±2**53 = "
                                      f"{MAX_STORED_INT:,})")
        elif isinstance(value, _CONTAINERS):
            if depth >= MAX_VALUE_DEPTH:
                raise ExpressionError(f"value nested too deeply (more than {MAX_VALUE_DEPTH} "
                                      f"levels of lists/dicts)")
            if len(value) > budget.items:  # refuse a long flat list without visiting it
                raise ExpressionError(f"value too large: more than {MAX_VALUE_ITEMS:,} items "
                                      f"(parts that appear several times count each time)")
            if isinstance(value, dict):
                for key, item in value.items():
                    stack.append((key, depth + 1))
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in value)


# --------------------------------------------------------------------------------------------
# Evaluation on top of simpleeval.


class _Evaluator(simpleeval.EvalWithCompoundTypes):
    """simpleeval with our functions, operators and methods only; unknown names are errors."""

    def __init__(self) -> None:
        super().__init__(operators=dict(_OPERATORS), functions=dict(FUNCTIONS), names={},
                         allowed_attrs={t: set(m) for t, m in METHODS.items()})
        self.functions = dict(FUNCTIONS)  # the base class adds list/tuple/dict/set
        self.ATTR_INDEX_FALLBACK = False
        for refused in (ast.Assign, ast.AugAssign, ast.Import, ast.ListComp, ast.GeneratorExp,
                        ast.DictComp):
            self.nodes.pop(refused, None)

    def _eval_name(self, node: ast.Name) -> Any:
        try:
            value = self.names[node.id]
        except KeyError:
            hint = ""
            if _ISO_LIKE.fullmatch(node.id):
                hint = f"; timer texts are strings and need quotes: \"'{node.id}'\""
            raise ExpressionError(f"unknown name '{node.id}'{hint}", name=node.id) from None
        if callable(value):  # data only: a function smuggled in through the names is refused
            raise ExpressionError(f"'{node.id}' holds a function, not data", name=node.id)
        return value

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        # Only reached for whitelisted method names (see _validate); check the receiver's type.
        value = self._eval(node.value)
        if node.attr not in METHODS.get(type(value), ()):
            raise ExpressionError(f"method '.{node.attr}()' is not available on "
                                  f"{type(value).__name__} values")
        return getattr(value, node.attr)

    def _eval_formattedvalue(self, node: ast.FormattedValue) -> Any:
        value = self._eval(node.value)
        if not isinstance(value, _SCALARS):
            raise ExpressionError(f"f-strings can only show text, numbers, booleans, dates or "
                                  f"None, not {type(value).__name__}")
        return value

    def _eval_joinedstr(self, node: ast.JoinedStr) -> str:
        # simpleeval's own version checks each part against its module default, not the total.
        parts: list[str] = []
        length = 0
        for part in node.values:
            text = str(self._eval(part))
            length += len(text)
            if length > MAX_SEQUENCE_LENGTH:
                raise ExpressionError(f"text too long: the f-string would exceed "
                                      f"{MAX_SEQUENCE_LENGTH} characters")
            parts.append(text)
        return "".join(parts)

    def _check_disallowed_items(self, item: Any) -> None:
        # simpleeval walks every intermediate result recursively, shared references included:
        # exponential on `a = [a, a]` chains (and recursive). The whitelist already keeps modules
        # and functions out of reach (names holding functions are refused, attributes are checked
        # by receiver type, only named functions are called), so the top level is enough here;
        # sizes are measured once per result by _check_values.
        if isinstance(item, types.ModuleType):
            raise ExpressionError("modules are not allowed")
        if callable(item) and item in simpleeval.DISALLOW_FUNCTIONS:
            raise ExpressionError("this function is not allowed")


_local = threading.local()


def _evaluator() -> _Evaluator:
    ev = getattr(_local, "evaluator", None)
    if ev is None:
        ev = _local.evaluator = _Evaluator()
    return ev


def _run(node: ast.AST, text: str, names: Mapping[str, Any], storable: bool = False,
         measure: bool = True) -> Any:
    ev = _evaluator()
    saved = ev.names, ev.expr  # re-entrant: a lazy Mapping may itself evaluate expressions
    ev.names = names
    ev.expr = text
    try:
        result = ev._eval(node)
        if measure:
            _check_values((result,), storable=storable)
        return result
    except ExpressionError as exc:
        if exc.expression is None:
            exc.expression = text
        raise
    except simpleeval.InvalidExpression as exc:
        raise ExpressionError(str(exc), text) from None
    except RecursionError:
        raise ExpressionError("expression is nested too deeply", text) from None
    except Exception as exc:  # noqa: BLE001 - any failure of an expression is an ExpressionError
        detail = str(exc) or exc.__class__.__name__
        if isinstance(exc, KeyError):
            detail = f"no key {exc.args[0]!r}" if exc.args else "missing key"
        raise ExpressionError(f"{exc.__class__.__name__}: {detail}", text) from None
    finally:
        ev.names, ev.expr = saved


# --------------------------------------------------------------------------------------------
# Constant parts: evaluated when the text is compiled, so a definition that always fails there
# (`9**9**9 > 1`, `round(5, -3*10**7)`) is refused when it is validated, not in every case at
# run time. Each part that reads no field is evaluated once, bottom-up, with the run-time limits.

# Nodes evaluated on their own; the others are parts of their parent (a method reference, a
# slice, an f-string's `{…}`) or already a value.
_NOT_FOLDED = (ast.Constant, ast.Name, ast.Attribute, ast.Slice, ast.FormattedValue)
_SYNTAX_ONLY = (ast.expr_context, ast.operator, ast.boolop, ast.cmpop, ast.unaryop)


def _check_constant_parts(node: ast.expr, source: str, text: str) -> None:
    """Evaluate every part of the checked tree `node` that reads no field (names are empty);
    raise the ExpressionError a part gives, naming the part. `source` is the text the tree's
    positions refer to, `text` the expression as written (for the message)."""
    _Folder(source, text).visit(_copy_tree(node))


def _copy_tree(node: ast.AST) -> ast.AST:
    """A copy to fold in place: the compiled tree itself is kept as written."""
    copied = type(node)(**{name: _copy_field(getattr(node, name, None)) for name in node._fields})
    return ast.copy_location(copied, node)


def _copy_field(value: Any) -> Any:
    if isinstance(value, ast.AST):
        return _copy_tree(value)
    if isinstance(value, list):
        return [_copy_field(v) for v in value]
    return value


class _Folder(ast.NodeTransformer):
    """Replaces each constant part by its value, so each is evaluated once."""

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.text = text

    def visit(self, node: ast.AST) -> ast.AST:
        segment = (ast.get_source_segment(self.source, node)
                   if isinstance(node, ast.expr) and hasattr(node, "lineno") else None)
        node = self.generic_visit(node)
        if isinstance(node, _NOT_FOLDED) or not isinstance(node, ast.expr) or not _constant(node):
            return node
        try:
            value = _run(node, self.text, {}, measure=False)
        except ExpressionError as exc:
            if segment is None or segment.strip() == self.text.strip():
                where = "it reads no field, so it fails whenever it is evaluated"
            else:
                where = (f"in {_snippet(segment, 80)}, a part that reads no field, so it fails "
                         f"whenever it is evaluated")
            raise ExpressionError(f"{exc.reason} ({where})", self.text) from None
        return ast.copy_location(ast.Constant(value=value), node)


def _constant(node: ast.AST) -> bool:
    """Whether `node`, its constant children already folded, reads no field."""
    if isinstance(node, (ast.Constant, *_SYNTAX_ONLY)):
        return True
    if isinstance(node, ast.Name):
        return False
    if isinstance(node, ast.Call):
        func_ok = isinstance(node.func, ast.Name) or _constant(node.func)  # len(…), 'a'.upper()
        return func_ok and all(_constant(child) for child in (*node.args, *node.keywords))
    return all(_constant(child) for child in ast.iter_child_nodes(node))


@dataclass(frozen=True, eq=False)
class Expression:
    """A checked expression, parsed once, evaluated many times."""

    text: str
    names: frozenset[str]  # free variable names, for "references unknown field" checks
    _node: ast.AST

    def evaluate(self, names: Mapping[str, Any], *, storable: bool = False) -> Any:
        """Evaluate over `names`; any refusal or failure raises ExpressionError.

        The result is measured (MAX_VALUE_ITEMS, MAX_VALUE_TEXT, MAX_VALUE_DEPTH, finite floats);
        with `storable`, it must also fit in task data (integers within ±MAX_STORED_INT).
        """
        return _run(self._node, self.text, names, storable)

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


def compile_expression(text: str) -> Expression:
    """Parse and check `text`; raise ExpressionError if it is not in the safe language, or if a
    part of it that reads no field fails with the run-time limits (`9**9**9`)."""
    tree = _parse(text, "eval", MAX_EXPRESSION_LENGTH)
    names = _validate(tree, text)
    _check_constant_parts(tree.body, text.strip(), text)
    return Expression(text=text, names=names, _node=tree.body)


_compile_cached = functools.lru_cache(maxsize=4096)(compile_expression)


def evaluate(text: str, names: Mapping[str, Any], *, storable: bool = False) -> Any:
    """Compile (cached) and evaluate `text` over `names` (see `Expression.evaluate`)."""
    return _compile_cached(text).evaluate(names, storable=storable)


# --------------------------------------------------------------------------------------------
# Scripts: a sequence of `name = <expression>` lines, nothing else.


@dataclass(frozen=True, eq=False)
class Script:
    """A checked script: ordered assignments, each a safe expression."""

    text: str
    assignments: tuple[tuple[str, Expression, int], ...]  # (target, value, line)
    names: frozenset[str]  # names read before being assigned by the script itself

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for t, _, _ in self.assignments))

    def run(self, names: Mapping[str, Any]) -> dict[str, Any]:
        """Evaluate the assignments in order; return the new values (nothing is mutated).

        Every assigned value must be storable and within the value limits, and so must all the
        values the script writes, together.
        """
        assigned: dict[str, Any] = {}
        scope = ChainMap(assigned, names)
        for target, expr, line in self.assignments:
            try:
                assigned[target] = expr.evaluate(scope, storable=True)
            except ExpressionError as exc:
                exc.line = line
                raise
        try:
            _check_values(assigned.values(), storable=True)
        except ExpressionError as exc:
            raise ExpressionError(f"the values this script writes, together: {exc.reason}",
                                  self.text) from None
        return assigned


def compile_script(text: str) -> Script:
    """Parse and check a script task; every statement must be `name = <safe expression>`."""
    tree = _parse(text, "exec", MAX_SCRIPT_LENGTH)
    source = textwrap.dedent(text)
    if len(tree.body) > MAX_SCRIPT_STATEMENTS:
        raise ExpressionError(f"script has {len(tree.body)} statements, the limit is "
                              f"{MAX_SCRIPT_STATEMENTS}", text)
    assignments: list[tuple[str, Expression, int]] = []
    read: set[str] = set()
    written: set[str] = set()
    for stmt in tree.body:
        line = stmt.lineno
        segment = ast.get_source_segment(source, stmt) or ""
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            raise ExpressionError("import is not allowed", segment, line=line)
        if not isinstance(stmt, ast.Assign):
            what = ("a line that is not an assignment" if isinstance(stmt, ast.Expr)
                    else f"a '{type(stmt).__name__}' statement")
            raise ExpressionError(f"{what} is not allowed; a script may only contain lines of "
                                  f"the form `name = expression`", segment, line=line)
        if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
            raise ExpressionError("only one plain name can be assigned per line "
                                  "(`name = expression`)", segment, line=line)
        target = stmt.targets[0].id
        if _dunder(target):
            raise ExpressionError(f"name '{target}' is not allowed (names starting with '__' "
                                  f"are reserved)", segment, line=line)
        value_text = ast.get_source_segment(source, stmt.value) or ""
        if len(value_text) > MAX_EXPRESSION_LENGTH:
            raise ExpressionError(f"too long: {len(value_text)} characters, the limit is "
                                  f"{MAX_EXPRESSION_LENGTH}", segment, line=line)
        try:
            names = _validate(ast.Expression(body=stmt.value), value_text)
            _check_constant_parts(stmt.value, source, value_text)
        except ExpressionError as exc:
            exc.line = line
            raise
        read |= names - written
        written.add(target)
        assignments.append((target, Expression(value_text, names, stmt.value), line))
    return Script(text=text, assignments=tuple(assignments), names=frozenset(read))


_compile_script_cached = functools.lru_cache(maxsize=1024)(compile_script)


# --------------------------------------------------------------------------------------------
# SpiffWorkflow integration.


class SafeEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow script environment that evaluates with the safe evaluator only.

    SpiffWorkflow calls the environment directly in some places (process completion and
    conditional-path checks, message correlation), so safety lives here, not only in the engine.
    """

    def __init__(self) -> None:
        super().__init__({})

    def evaluate(self, expression: str, context: Mapping[str, Any],
                 external_context: Mapping[str, Any] | None = None) -> Any:
        # Task data wins over external context, as in SpiffWorkflow's TaskDataEnvironment.
        names = ChainMap(context, external_context) if external_context else context
        return evaluate(expression, names, storable=True)  # SpiffWorkflow may store the result

    def execute(self, script: str, context: dict[str, Any],
                external_context: Mapping[str, Any] | None = None) -> bool:
        compiled = _compile_script_cached(script)
        names = ChainMap(context, external_context) if external_context else context
        context.update(compiled.run(names))  # all-or-nothing: written only if every line ran
        return True

    def call_service(self, context: Mapping[str, Any], **kwargs: Any) -> Any:
        raise ExpressionError("service tasks are not supported by the safe script engine")


class SafeScriptEngine(PythonScriptEngine):
    """A `PythonScriptEngine` that never calls `eval`/`exec`.

    Gateway and sequence-flow conditions, timer texts and other expressions go through
    `compile_expression`; script tasks must be `name = expression` lines (`compile_script`).
    Refusals surface as `WorkflowTaskException` naming the task and the reason.
    """

    def __init__(self, environment: SafeEnvironment | None = None) -> None:
        if environment is not None and not isinstance(environment, SafeEnvironment):
            raise TypeError("SafeScriptEngine requires a SafeEnvironment")
        super().__init__(environment or SafeEnvironment())

    def validate(self, expression: str) -> None:
        _compile_cached(expression)

    def evaluate(self, task, expression, external_context=None):
        try:
            value = self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException as exc:
            exc.add_note(f"Error evaluating expression {expression!r}")
            raise
        except ExpressionError as exc:
            raise WorkflowTaskException(
                f"Error evaluating expression {_snippet(expression)}: {exc.reason}",
                task=task, exception=exc) from exc
        event = getattr(task.task_spec, "event_definition", None)
        # An event-based gateway evaluates its timer branches' expressions itself.
        timers = (event.event_definitions if isinstance(event, MultipleEventDefinition) else (event,))
        if any(isinstance(t, TimerEventDefinition) and t.expression == expression for t in timers):
            value = self._timer_text(task, expression, value)
        return value

    @staticmethod
    def _timer_text(task, expression, value):
        """SpiffWorkflow parses the timer value itself and needs ISO 8601 text."""
        if isinstance(value, (_dt.date, _dt.datetime)):
            return value.isoformat()
        if not isinstance(value, str):
            raise WorkflowTaskException(
                f"Timer expression {_snippet(expression)} gave {type(value).__name__} "
                f"{value!r}; it must give ISO 8601 text such as 'P2D' or "
                f"'2024-05-31T12:00:00+03:00' (quote literal durations)", task=task)
        return value

    def execute(self, task, script, external_context=None):
        try:
            return self.environment.execute(script, task.data, external_context)
        except SpiffWorkflowException:
            raise
        except ExpressionError as exc:
            error_line = ""
            if exc.line:
                lines = textwrap.dedent(script).splitlines()
                if 0 < exc.line <= len(lines):
                    error_line = lines[exc.line - 1].strip()
            where = f" on line {exc.line}" if exc.line else ""
            raise WorkflowTaskException(
                f"Script refused{where}: {exc.reason}", task=task, exception=exc,
                line_number=exc.line, error_line=error_line) from exc

    def call_service(self, task, **kwargs):
        raise WorkflowTaskException("Service tasks are not supported by the safe script engine",
                                    task=task)
