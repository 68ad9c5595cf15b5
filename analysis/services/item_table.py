"""The per-item table of a session: every judge's labels, the majority label and a disagreement flag, paged.

Read straight from the latest judgments of the page's items (not from the stored statistics), so it is
always current and costs one query per page however large the session. The disagreement filter is a
grouped count in the database: an item disagrees when its judges gave more than one distinct label to
either answer (the engine's definition). Judges the statistics leave out (``judge_policy.excluded_judges``)
keep their column, marked "(left out)", but count in no majority, preference tally or disagreement.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.core.paginator import Page, Paginator
from django.db.models import Count, Q

from analysis.services.judge_policy import excluded_judges
from annotation.models import JudgingSession, Judgment, SessionItem

PER_PAGE = 50
ITEM_FIELDS = ("id", "position", "external_id", "question", "gold_answers", "answer_a", "answer_b", "is_control",
               "control_kind")  # fmt: skip
TIE = "tie"


def majority(labels: list[str]) -> str | None:
    """Strict plurality: the label given by more judges than any other; "tie" when the top is shared."""
    if not labels:
        return None
    ranked = Counter(labels).most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return TIE
    return ranked[0][0]


@dataclass
class ItemRow:
    item: SessionItem
    cells: list[dict | None] = field(default_factory=list)  # one per judge column: label_a, label_b, preference
    majority_a: str | None = None
    majority_b: str | None = None
    preferences: dict[str, int] = field(default_factory=dict)
    disagreement: bool = False
    n_judgments: int = 0


@dataclass
class ItemTable:
    page: Page
    judges: list[str]
    rows: list[ItemRow]
    disagreements_only: bool
    label_names: dict[str, str]


def disagreeing_items(session: JudgingSession, excluded: dict[int, str] | None = None):
    """Items whose counted judges gave more than one distinct label to either answer."""
    counted = ~Q(judgments__judge_id__in=sorted(excluded)) if excluded else Q()
    return (
        SessionItem.objects.filter(session=session)
        .annotate(
            n_a=Count("judgments__label_a", distinct=True, filter=counted),
            n_b=Count("judgments__label_b", distinct=True, filter=counted),
        )
        .filter(Q(n_a__gt=1) | Q(n_b__gt=1))
    )


def item_table(
    session: JudgingSession, *, disagreements_only: bool = False, page_number: object = 1, per_page: int = PER_PAGE
) -> ItemTable:
    excluded = excluded_judges(session)
    items = disagreeing_items(session, excluded) if disagreements_only else SessionItem.objects.filter(session=session)
    items = items.order_by("position", "id").only(*ITEM_FIELDS)
    page = Paginator(items, per_page).get_page(page_number)
    page_items = list(page.object_list)
    by_item: dict[int, dict[int, tuple[str, str, str]]] = defaultdict(dict)
    for item_id, judge_id, label_a, label_b, preference in Judgment.objects.filter(
        item_id__in=[item.pk for item in page_items]
    ).values_list("item_id", "judge_id", "label_a", "label_b", "preference"):
        by_item[item_id][judge_id] = (label_a, label_b, preference)
    judge_ids = sorted({judge for judged in by_item.values() for judge in judged})
    names = dict(User.objects.filter(pk__in=judge_ids).values_list("pk", "username"))
    judge_ids.sort(key=lambda pk: names.get(pk, ""))
    rows = []
    for item in page_items:
        shown = by_item.get(item.pk, {})
        judged = {judge: value for judge, value in shown.items() if judge not in excluded}  # what the figures use
        labels_a = [value[0] for value in judged.values() if value[0]]
        labels_b = [value[1] for value in judged.values() if value[1]]
        rows.append(
            ItemRow(
                item=item,
                cells=[
                    dict(zip(("label_a", "label_b", "preference"), shown[j], strict=True)) if j in shown else None
                    for j in judge_ids
                ],
                majority_a=majority(labels_a),
                majority_b=majority(labels_b),
                preferences=dict(Counter(value[2] for value in judged.values() if value[2])),
                disagreement=len(set(labels_a)) > 1 or len(set(labels_b)) > 1,
                n_judgments=len(judged),
            )
        )
    label_names = {label["key"]: label["label"] for label in session.accuracy_labels}
    columns = [names.get(j, f"user {j}") + (" (left out)" if j in excluded else "") for j in judge_ids]
    return ItemTable(page, columns, rows, disagreements_only, label_names)
