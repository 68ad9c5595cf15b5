"""Chunked writes, so big imports and exports never build one giant list or one giant transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TypeVar

from django.db import models, transaction

T = TypeVar("T")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def bulk_create_chunked(
    model: type[models.Model],
    objects: Iterable[models.Model],
    *,
    batch_size: int = 1000,
    on_chunk: Callable[[int], None] | None = None,
    ignore_conflicts: bool = False,
) -> int:
    """Insert in chunks, each in its own short transaction; `on_chunk(total_so_far)` reports progress."""
    total = 0
    for chunk in chunked(objects, batch_size):
        with transaction.atomic():
            model.objects.bulk_create(chunk, batch_size=batch_size, ignore_conflicts=ignore_conflicts)
        total += len(chunk)
        if on_chunk is not None:
            on_chunk(total)
    return total
