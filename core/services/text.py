"""Text the database cannot store, found before it reaches the database.

PostgreSQL refuses NUL bytes in text columns, and a lone surrogate (what a broken \\udXXX escape in JSON
decodes to) cannot be encoded as UTF-8 at all. Either would fail a whole insert with a driver error that
names no line or field, so importers, uploads and forms check values first and say where the bad text is.
"""

from __future__ import annotations


def unstorable_reason(value: str) -> str:
    """Why `value` cannot be stored as text ("" when it can)."""
    if "\x00" in value:
        return "a NUL character (\\x00)"
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        return "a lone surrogate (an invalid \\udXXX escape), which is not valid Unicode"
    return ""


def storable_text(value: str) -> str:
    """`value` with NUL bytes and lone surrogates replaced by U+FFFD, for text we keep whatever it holds
    (a model's output): the replacement character shows where something unprintable was."""
    if not unstorable_reason(value):
        return value
    cleaned = value.replace("\x00", "\ufffd")
    return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in cleaned)
