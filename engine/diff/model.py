"""Inventory review: a semantic diff of two procedure catalogs (Directive No. 2, §2.3 and §2.4).

`diff_catalogs(old, new)` compares two catalogs (number -> Procedure) and lists every change a
reviewer must see, each classed as

* ``burden`` — worse for the citizen: a new procedure, a longer term, one more document to bring,
  a higher fee, a shorter validity, a channel taken away (what §2.3 forbids);
* ``simplification`` — better for the citizen: the reverse;
* ``neutral`` — a change to record that is neither (a renamed step, a new role, a reworded term).

Procedures are paired by number; a removed and an added procedure with the same (or a
near-identical) Russian name are one procedure under a new number (``procedure.renumbered``).
Two terms are compared by their real deadlines: both are counted with `engine.terms.due_date`
from every start day of a fixed reference year (`REFERENCE_YEAR`) on the Belarusian calendar, and
the new term is longer if its deadline is later on any of those days, shorter if it is never
later and earlier on at least one, and the same term reworded if the deadlines never differ. So
"15 days" -> "1 month" is a longer term, "7 days" -> "5 working days" too (later on 39 start days
of 2025), and "15 days" -> "15 calendar days" only a rewording.

`load_side("git:REV")` or `load_side("path/to/folder")` reads one side; `diff_to_json` is the
stable JSON form (schema ``okno.diff/1``) that the CLI prints and the HTTP API serves. Every kind
of change, with its class, is listed in `KINDS` and described in docs/diff.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SCHEMA_ID = "okno.diff/1"

BURDEN = "burden"
SIMPLIFICATION = "simplification"
NEUTRAL = "neutral"
CLASSES = (BURDEN, SIMPLIFICATION, NEUTRAL)
CLASS_RU = {BURDEN: "обременение", SIMPLIFICATION: "упрощение", NEUTRAL: "нейтрально"}

# Two Russian names this similar (difflib ratio, after normalisation) are "near-identical":
# a removed and an added procedure with such names are one procedure renumbered.
NEAR_IDENTICAL = 0.85

Value = str | int | float | bool | None

# Every kind of change: kind -> (the class it usually has, what it means). Some kinds take their
# class from the values compared (marked "by values"); see docs/diff.md.
KINDS: dict[str, tuple[str, str]] = {
    "procedure.added": (BURDEN, "новая процедура (п. 2.3 Директивы № 2)"),
    "procedure.removed": (SIMPLIFICATION, "процедура исключена"),
    "procedure.renumbered": (NEUTRAL, "та же процедура под новым номером"),
    "procedure.renamed": (NEUTRAL, "изменено наименование (тот же номер)"),
    "procedure.translation_changed": (NEUTRAL, "изменён перевод наименования (be, en)"),
    "procedure.notes_changed": (NEUTRAL, "изменено примечание к процедуре"),
    "source.changed": (NEUTRAL, "изменён источник сведений (акт, редакция, дата сверки)"),
    "legal_basis.added": (NEUTRAL, "добавлено основание (акт)"),
    "legal_basis.removed": (NEUTRAL, "исключено основание (акт)"),
    "result.changed": (NEUTRAL, "изменён результат процедуры"),
    "document.added": (BURDEN, "гражданин должен представить ещё один документ"),
    "document.removed": (SIMPLIFICATION, "гражданин больше не представляет документ"),
    "document.moved_to_citizen": (BURDEN, "документ, который запрашивал орган, теперь несёт гражданин"),
    "document.moved_to_authority": (SIMPLIFICATION, "документ, который нёс гражданин, теперь запрашивает орган"),
    "document.retitled": (NEUTRAL, "изменено наименование документа"),
    "document.condition_removed": (BURDEN, "документ, нужный при условии, теперь нужен всегда"),
    "document.condition_added": (SIMPLIFICATION, "документ, нужный всегда, теперь нужен только при условии"),
    "document.condition_changed": (NEUTRAL, "изменено условие, при котором нужен документ"),
    "document.notes_changed": (NEUTRAL, "изменено примечание к документу"),
    "document.optional_added": (SIMPLIFICATION, "обязательный документ теперь можно не представлять"),
    "document.optional_removed": (BURDEN, "документ, который можно было не представлять, стал обязательным"),
    "document.may_be_requested_added": (SIMPLIFICATION, "документ вместо гражданина может запросить орган"),
    "document.may_be_requested_removed": (BURDEN, "документ, который мог запросить орган, теперь несёт гражданин"),
    "requested_document.added": (NEUTRAL, "орган будет запрашивать документ (обременение, если он платный)"),
    "requested_document.removed": (NEUTRAL, "орган больше не запрашивает документ (упрощение, если он был платным)"),
    "requested_document.retitled": (NEUTRAL, "изменено наименование запрашиваемого документа"),
    "requested_document.source_changed": (NEUTRAL, "изменён источник запрашиваемого документа"),
    "requested_document.condition_changed": (NEUTRAL, "изменено условие запроса документа"),
    "requested_document.notes_changed": (NEUTRAL, "изменено примечание к запрашиваемому документу"),
    "requested_document.may_bring_removed": (BURDEN, "гражданин больше не вправе представить документ сам"),
    "requested_document.may_bring_added": (SIMPLIFICATION, "гражданин вправе представить документ сам"),
    "requested_document.fee_added": (BURDEN, "запрашиваемый документ стал платным"),
    "requested_document.fee_removed": (SIMPLIFICATION, "запрашиваемый документ стал бесплатным"),
    "requested_document.fee_increased": (BURDEN, "плата за запрашиваемый документ увеличена"),
    "requested_document.fee_decreased": (SIMPLIFICATION, "плата за запрашиваемый документ уменьшена"),
    "fee.added": (BURDEN, "бесплатная процедура стала платной"),
    "fee.removed": (SIMPLIFICATION, "платная процедура стала бесплатной"),
    "fee.kind_changed": (NEUTRAL, "изменён порядок платы (класс по суммам)"),
    "fee.increased": (BURDEN, "плата увеличена"),
    "fee.decreased": (SIMPLIFICATION, "плата уменьшена"),
    "fee.category_added": (NEUTRAL, "добавлена категория платы (класс по суммам)"),
    "fee.category_removed": (NEUTRAL, "исключена категория платы (класс по суммам)"),
    "fee.category_increased": (BURDEN, "плата для категории увеличена"),
    "fee.category_decreased": (SIMPLIFICATION, "плата для категории уменьшена"),
    "fee.category_retitled": (NEUTRAL, "изменено наименование категории платы"),
    "fee.cell_added": (NEUTRAL, "в таблице платы новая строка (обременение, если она платная)"),
    "fee.cell_removed": (NEUTRAL, "из таблицы платы исключена строка (упрощение, если она была платной)"),
    "fee.cell_increased": (BURDEN, "плата по таблице увеличена"),
    "fee.cell_decreased": (SIMPLIFICATION, "плата по таблице уменьшена"),
    "fee.table_axes_changed": (NEUTRAL, "изменено, от каких сведений зависит плата (класс по суммам)"),
    "fee.exemption_added": (SIMPLIFICATION, "добавлена льгота по плате"),
    "fee.exemption_removed": (BURDEN, "исключена льгота по плате"),
    "fee.exemption_changed": (NEUTRAL, "изменена формулировка льготы"),
    "fee.notes_changed": (NEUTRAL, "изменено примечание к плате"),
    "term.longer": (BURDEN, "срок увеличен"),
    "term.shorter": (SIMPLIFICATION, "срок сокращён"),
    "term.reworded": (NEUTRAL, "срок той же длины записан иначе"),
    "term.counted_from_changed": (NEUTRAL, "изменено начало отсчёта срока (класс по направлению)"),
    "term.notes_changed": (NEUTRAL, "изменено примечание к сроку"),
    "option.added": (NEUTRAL, "добавлен порядок осуществления (класс по срокам: обременение, если "
                              "он дольше самого долгого прежнего)"),
    "option.removed": (NEUTRAL, "исключён порядок осуществления (класс по срокам: обременение, "
                                "если он был быстрее оставшихся, упрощение, если самым долгим)"),
    "option.term_longer": (BURDEN, "срок порядка осуществления увеличен"),
    "option.term_shorter": (SIMPLIFICATION, "срок порядка осуществления сокращён"),
    "option.term_reworded": (NEUTRAL, "срок порядка той же длины записан иначе"),
    "option.fee_increased": (BURDEN, "плата за порядок осуществления увеличена"),
    "option.fee_decreased": (SIMPLIFICATION, "плата за порядок осуществления уменьшена"),
    "option.retitled": (NEUTRAL, "изменено наименование порядка осуществления"),
    "option.default_changed": (NEUTRAL, "изменён порядок, применяемый без выбора заявителя"),
    "option.notes_changed": (NEUTRAL, "изменено примечание или основание порядка осуществления"),
    "validity.shorter": (BURDEN, "срок действия результата сокращён"),
    "validity.longer": (SIMPLIFICATION, "срок действия результата увеличен"),
    "validity.reworded": (NEUTRAL, "срок действия той же длины записан иначе"),
    "validity.limited": (BURDEN, "бессрочный результат стал срочным"),
    "validity.unlimited": (SIMPLIFICATION, "срочный результат стал бессрочным"),
    "validity.kind_changed": (NEUTRAL, "изменён вид срока действия (несравнимые виды)"),
    "validity.event_changed": (NEUTRAL, "изменено событие, до которого действует результат"),
    "validity.capped": (BURDEN, "срок действия ограничен вычисляемой датой (результат может истечь раньше)"),
    "validity.uncapped": (SIMPLIFICATION, "снято ограничение срока действия вычисляемой датой"),
    "validity.cap_changed": (NEUTRAL, "изменена вычисляемая дата окончания срока действия (класс по направлению)"),
    "channel.added": (SIMPLIFICATION, "добавлен способ подачи заявления"),
    "channel.removed": (BURDEN, "исключён способ подачи заявления"),
    "authority.added": (NEUTRAL, "добавлен орган"),
    "authority.removed": (NEUTRAL, "исключён орган"),
    "authority.changed": (NEUTRAL, "изменено наименование органа"),
    "authority.role_changed": (NEUTRAL, "изменено, принимает ли орган заявление или решение"),
    "step.added": (NEUTRAL, "добавлен шаг"),
    "step.removed": (NEUTRAL, "исключён шаг"),
    "step.changed": (NEUTRAL, "изменён шаг"),
    "step.field_added": (NEUTRAL, "добавлено поле формы шага"),
    "step.field_removed": (NEUTRAL, "исключено поле формы шага"),
    "step.field_changed": (NEUTRAL, "изменено поле формы шага"),
    "bpmn.changed": (NEUTRAL, "изменена схема BPMN"),
    "role.added": (NEUTRAL, "добавлена роль"),
    "role.removed": (NEUTRAL, "исключена роль"),
    "role.changed": (NEUTRAL, "изменена роль"),
    "refusal_ground.added": (BURDEN, "добавлено основание для отказа"),
    "refusal_ground.removed": (SIMPLIFICATION, "исключено основание для отказа"),
    "refusal_ground.changed": (NEUTRAL, "изменена формулировка основания для отказа"),
    "suspension.allowed": (BURDEN, "процедуру теперь можно приостановить"),
    "suspension.disallowed": (SIMPLIFICATION, "процедуру больше нельзя приостановить"),
    "suspension.ground_added": (BURDEN, "добавлено основание приостановления"),
    "suspension.ground_removed": (SIMPLIFICATION, "исключено основание приостановления"),
    "suspension.ground_changed": (NEUTRAL, "изменена формулировка основания приостановления"),
    "appeal.added": (NEUTRAL, "указан порядок обжалования"),
    "appeal.removed": (NEUTRAL, "порядок обжалования не указан"),
    "appeal.body_changed": (NEUTRAL, "изменён вышестоящий орган"),
    "appeal.term_shorter": (BURDEN, "срок обжалования сокращён"),
    "appeal.term_longer": (SIMPLIFICATION, "срок обжалования увеличен"),
    "appeal.term_reworded": (NEUTRAL, "срок обжалования той же длины записан иначе"),
    "appeal.court_removed": (BURDEN, "обжалование в суд не указано"),
    "appeal.court_added": (SIMPLIFICATION, "указано обжалование в суд"),
}


# --------------------------------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Change:
    """One change a reviewer sees. ``old``/``new`` are plain JSON values (see docs/diff.md)."""

    old_number: str | None
    new_number: str | None
    kind: str
    path: str
    old: Value
    new: Value
    message: str
    class_: str
    procedure: str = ""  # the Russian name (the new one if the procedure still exists)

    @property
    def number(self) -> str:
        """The number to show: the new one, or the old one for a removed procedure."""
        return self.new_number or self.old_number or ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "old_number": self.old_number,
            "new_number": self.new_number,
            "procedure": self.procedure,
            "kind": self.kind,
            "class": self.class_,
            "path": self.path,
            "old": self.old,
            "new": self.new,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class CatalogDiff:
    """Every change between two catalogs, in a stable order (number, then kind, then path)."""

    changes: tuple[Change, ...]
    old_count: int = 0
    new_count: int = 0
    old_label: str = "old"
    new_label: str = "new"

    @property
    def summary(self) -> dict[str, int]:
        """Counts per class, every class present: {"burden": n, "simplification": n, "neutral": n}."""
        counts = dict.fromkeys(CLASSES, 0)
        for change in self.changes:
            counts[change.class_] += 1
        return counts

    @property
    def has_burden(self) -> bool:
        return any(c.class_ == BURDEN for c in self.changes)

    def by_procedure(self) -> list[tuple[tuple[str | None, str | None], list[Change]]]:
        """Changes grouped by procedure ((old number, new number) -> its changes), in order."""
        groups: dict[tuple[str | None, str | None], list[Change]] = {}
        for change in self.changes:
            groups.setdefault((change.old_number, change.new_number), []).append(change)
        return list(groups.items())


def diff_to_json(diff: CatalogDiff) -> dict[str, Any]:
    """The stable JSON form (schema ``okno.diff/1``), for the CLI and ``GET /api/catalog/diff``."""
    return {
        "schema": SCHEMA_ID,
        "old": {"source": diff.old_label, "procedures": diff.old_count},
        "new": {"source": diff.new_label, "procedures": diff.new_count},
        "summary": diff.summary,
        "changes": [c.to_dict() for c in diff.changes],
    }


# --------------------------------------------------------------------------------------------------
