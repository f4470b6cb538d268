"""Russian labels for the conditions of compiled flows, from the definition's own titles.

A step's `condition` is an expression over the form fields (`not brought_certificate`,
`reason == 'lost'`, `a or b`). Its label names the fields by their titles and choice values by the
choices' titles: `reason == 'lost'` → «Причина выдачи дубликата: утрата». Only these shapes are
put into words (names, `not`, `and`/`or`, `==`/`!=` against a string, number or boolean);
anything else is labelled «при выполнении условия», never with the expression itself.
"""
from __future__ import annotations

import ast

from engine.definition.procedure import Field, Procedure

FALLBACK = "при выполнении условия"
_DEPTH = 8  # nesting the labeller follows; the expression's length is bounded by its checker


class _Unlabelled(Exception):
    pass


def condition_title(procedure: Procedure, condition: str) -> str:
    """The Russian label of `condition` in `procedure` (see the module's notes)."""
    fields = {f.id: f for step in procedure.steps for f in step.fields}
    try:
        tree = ast.parse(condition.strip(), mode="eval")
        return _say(tree.body, fields, 0)
    except (SyntaxError, ValueError, RecursionError, _Unlabelled):
        return FALLBACK


def _field(node: ast.expr, fields: dict[str, Field]) -> Field:
    if not isinstance(node, ast.Name) or node.id not in fields:
        raise _Unlabelled
    return fields[node.id]


def _value(field: Field, node: ast.expr) -> str:
    if not isinstance(node, ast.Constant):
        raise _Unlabelled
    if isinstance(node.value, bool):
        return "да" if node.value else "нет"
    for choice in field.choices:
        if choice.id == node.value:
            return choice.title
    if isinstance(node.value, (int, float)) and field.type != "choice":
        return str(node.value)
    raise _Unlabelled


def _say(node: ast.expr, fields: dict[str, Field], depth: int) -> str:
    if depth > _DEPTH:
        raise _Unlabelled
    if isinstance(node, ast.Name):
        return _field(node, fields).title
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return "нет: " + _say(node.operand, fields, depth + 1)
    if isinstance(node, ast.BoolOp):
        word = " или " if isinstance(node.op, ast.Or) else " и "
        return word.join(_say(v, fields, depth + 1) for v in node.values)
    if (isinstance(node, ast.Compare) and len(node.ops) == 1
            and isinstance(node.ops[0], (ast.Eq, ast.NotEq))):
        field = _field(node.left, fields)
        value = _value(field, node.comparators[0])
        negate = "не " if isinstance(node.ops[0], ast.NotEq) else ""
        return f"{field.title}: {negate}«{value}»"
    raise _Unlabelled
