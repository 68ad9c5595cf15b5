"""Constructors for the engine parts that need torch, importing it on first use.

The web process imports the services that start model jobs (LLM judging, generation) but never runs a model:
building the local generator through here keeps torch and transformers out of that process, while the module
that calls this still names its arrow to `generation` at the top of the file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from generation.engine.local import LocalGenerator


def local_generator(model: Any, tokenizer: Any, *, batch_size: int) -> LocalGenerator:
    """`LocalGenerator(model, tokenizer, batch_size=...)`, importing torch only now."""
    from generation.engine.local import LocalGenerator

    return LocalGenerator(model, tokenizer, batch_size=batch_size)
