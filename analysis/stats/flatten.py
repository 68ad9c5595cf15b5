"""Dotted paths to the leaves of a statistics summary: the names exports and the reference checks share."""

from __future__ import annotations


def flatten(value: object, prefix: str = "") -> dict[str, object]:
    """Dotted paths to every leaf of a nested dict/list (list positions become path parts)."""
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and (prefix.endswith(".ci") or any(isinstance(v, dict) for v in value)):
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}.{index}"))
        return out
    return {prefix: value}
