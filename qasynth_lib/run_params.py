"""The round trip every run-settings value object shares: stored params (a form's cleaned data, a Job's or an
experiment's JSON, a management command's options) in, one frozen, validated object out, and back.

A run kind's settings are written down once, as the fields of its frozen dataclass; forms, services, tasks and
stored params go through `from_params`/`to_params` instead of copying the field list. Old stored names are
read through `ALIASES`, so params written before a rename still load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, ClassVar, Self


class RunParams:
    """Mixin for a frozen dataclass of run settings. Subclasses define `errors()` (sentences, empty when valid)
    and may name old stored keys in `ALIASES` ({old name: field name})."""

    ALIASES: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))  # type: ignore[arg-type]

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None = None, **more: Any) -> Self:
        """The settings given by `params` (and `more`, which wins). A value of None means "the default", as a
        blank optional form field does; an old name in ALIASES is read as its new one (the new name wins when
        both are present); any other unknown key is refused with a message naming it."""
        names = cls.field_names()
        given = {**(params or {}), **more}
        values: dict[str, Any] = {}
        unknown = []
        for key, value in given.items():
            name = cls.ALIASES.get(key, key)
            if name not in names:
                unknown.append(key)
            elif value is not None and (name == key or name not in given):
                values[name] = value
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(sorted(unknown))}; known: {', '.join(names)}")
        return cls(**values)

    def to_params(self) -> dict[str, Any]:
        """Every field under its current name, as JSON-ready values (tuples become lists)."""
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in ((name, getattr(self, name)) for name in self.field_names())
        }

    def errors(self) -> list[str]:
        raise NotImplementedError

    def validated(self) -> Self:
        """Itself when valid; else ValueError whose message lists every problem."""
        problems = self.errors()
        if problems:
            raise ValueError("; ".join(problems))
        return self
