"""The shipped prompt templates (generation/prompts.py) as editable rows, seeded idempotently.

Seeding only creates missing rows: a template a staff member has edited in the admin is never reset.
"""

from __future__ import annotations

from generation.models import PromptTemplate
from generation.prompts import DEFAULT_TEMPLATES
from generation.prompts import PromptTemplate as EnginePromptTemplate


def _row_values(template: EnginePromptTemplate) -> dict:
    return {
        "language": template.language,
        "shots": template.shots,
        "pairs_per_passage": template.pairs_per_passage,
        "instruction": template.instruction,
        "system": template.system,
        "example_passage": template.example_passage,
        "example_pairs": [list(pair) for pair in template.example_pairs],
        "plain_header": template.plain_header,
        "passage_label": template.passage_label,
        "style": str(template.style),
        "is_default": True,
    }


def seed_default_templates() -> int:
    """Create the en/ja zero-/one-shot defaults that are missing; returns how many were created."""
    created = 0
    for name, template in DEFAULT_TEMPLATES.items():
        _, was_created = PromptTemplate.objects.get_or_create(name=name, defaults=_row_values(template))
        created += int(was_created)
    return created


def default_template_for(language: str, shots: int = 0) -> PromptTemplate:
    """The default row for a language (others fall back to English) and shot count, seeding if needed."""
    lang = "ja" if language.split("-")[0].lower() == "ja" else "en"
    found = PromptTemplate.objects.filter(language=lang, shots=shots, is_default=True).order_by("pk").first()
    if found is None:
        seed_default_templates()
        found = PromptTemplate.objects.get(name=f"{lang}-{'zero' if shots == 0 else 'one'}-shot")
    return found
