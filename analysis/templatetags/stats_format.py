"""Template filters for statistics: undefined values read "undefined", never 0, NaN or an empty cell."""

from __future__ import annotations

import math

from django import template
from django.utils.safestring import mark_safe

register = template.Library()

UNDEFINED = "undefined"


def _defined(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@register.filter
def percent(value: object, digits: int = 1) -> str:
    """0.454 -> "45.4%"."""
    return f"{100 * value:.{int(digits)}f}%" if _defined(value) else UNDEFINED


@register.filter
def number(value: object, digits: int = 3) -> str:
    return f"{value:.{int(digits)}f}" if _defined(value) else UNDEFINED


@register.filter
def interval(ci: object, kind: str = "number") -> str:
    """[low, high] as "[45.1%, 47.9%]" (kind "percent") or "[0.412, 0.455]"; "undefined" when there is none."""
    if not isinstance(ci, list | tuple) or len(ci) != 2 or not all(_defined(v) for v in ci):
        return UNDEFINED
    if kind == "percent":
        return f"[{100 * ci[0]:.1f}%, {100 * ci[1]:.1f}%]"
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]"


@register.filter
def pvalue(value: object) -> str:
    if not _defined(value):
        return UNDEFINED
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


@register.filter
def seconds(value: object) -> str:
    if not _defined(value):
        return UNDEFINED
    return f"{value:.1f} s" if value >= 10 else f"{value:.3g} s"


@register.filter
def lookup(mapping: object, key: object) -> object:
    """mapping[key] for keys the template language cannot spell (names with spaces)."""
    if isinstance(mapping, dict):
        return mapping.get(key)
    if isinstance(mapping, list | tuple) and isinstance(key, int) and 0 <= key < len(mapping):
        return mapping[key]
    return None


@register.filter
def svg(plots: object, name: str) -> str:
    """A stored server-rendered plot (matplotlib's escaped SVG built from our own numbers and names)."""
    value = plots.get(name) if isinstance(plots, dict) else None
    return mark_safe(value) if value else ""  # noqa: S308 - produced by analysis.plots, text escaped
