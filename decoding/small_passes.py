"""Cheap forward passes of a few tokens over a large key/value cache: what choice scoring does after a batch's
prompts are in the cache (a step's lead, then its options, for every row at once).

Why: on the CPU each such pass over a 16-row SmolLM2 cache cost far more in copying than in compute. Two
copies of the whole cache per layer and pass:

- DynamicCache appends by concatenation, so every pass copies the cache it extends (and cropping the options
  off again is a view, so the next pass copies again). ``make_room`` gives each layer a buffer with room for
  the tokens still to come: appends are written in place and the layer's keys and values are views of it.
- With grouped-query attention (SmolLM2: 9 query heads, 3 key/value heads) and a mask, transformers' sdpa
  path repeats the keys and values for every query head (``repeat_kv``: three times the cache, per layer
  and pass), because PyTorch's grouped-query attention on the CPU refuses a mask. ``grouped_attention``
  runs those passes with each group's query heads stacked along the query axis instead, so attention reads
  the cache as it is. Only for passes of at most ``MAX_GROUPED_QUERIES`` tokens: a prompt's prefill keeps
  the library's path (stacking would copy its much larger mask instead).

Both leave every score as it was, within float rounding (tests/engine/test_small_passes.py holds them to the
plain path).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

import torch

MAX_GROUPED_QUERIES = 64
GROUPED_SDPA = "qasynth_grouped_sdpa"


def make_room(cache: Any, extra: int) -> bool:
    """Give every layer of a DynamicCache room for ``extra`` more tokens, appended in place. False (and the
    cache unchanged) where the cache is not made of plain DynamicLayers (older transformers, sliding-window
    layers), which keep appending by concatenation."""
    try:
        from transformers.cache_utils import DynamicLayer
    except ImportError:
        return False
    layers = getattr(cache, "layers", None)
    if not layers or any(type(layer) is not DynamicLayer or not layer.is_initialized for layer in layers):
        return False
    roomy = _roomy_layer_class()
    for layer in layers:
        roomy.adopt(layer, extra)
    return True


@functools.cache
def _roomy_layer_class() -> Any:
    from transformers.cache_utils import DynamicLayer

    class _RoomyLayer(DynamicLayer):  # type: ignore[no-untyped-call]
        """A DynamicLayer whose keys and values are views of larger buffers: appends write in place (growing
        the buffers, by copying, only when they are full); cropping narrows the views, as it does anyway."""

        key_room: torch.Tensor
        value_room: torch.Tensor

        @classmethod
        def adopt(cls, layer: Any, extra: int) -> None:
            keys, values = layer.keys, layer.values
            used = keys.shape[-2]
            layer.__class__ = cls
            layer.key_room = _with_room(keys, used + extra)
            layer.value_room = _with_room(values, used + extra)
            layer.keys, layer.values = layer.key_room[..., :used, :], layer.value_room[..., :used, :]

        def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            assert self.keys is not None and self.values is not None  # adopted layers are initialised
            start = self.keys.shape[-2]
            end = start + key_states.shape[-2]
            if end > self.key_room.shape[-2]:
                self.key_room = _with_room(self.keys, 2 * end)
                self.value_room = _with_room(self.values, 2 * end)
            self.key_room[..., start:end, :] = key_states
            self.value_room[..., start:end, :] = value_states
            self.keys, self.values = self.key_room[..., :end, :], self.value_room[..., :end, :]
            return self.keys, self.values

    return _RoomyLayer


def _with_room(states: torch.Tensor, length: int) -> torch.Tensor:
    room = states.new_empty((*states.shape[:-2], length, states.shape[-1]))
    room[..., : states.shape[-2], :] = states
    return room


def grouped_sdpa(
    module: Any,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers' sdpa attention, except for a short masked pass of a grouped-query model: there each
    key/value head's query heads are stacked along the query axis ([B, H, q, d] -> [B, H_kv, n_rep * q, d],
    the mask repeated alike), so the keys and values are read as they are instead of repeated per head."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    groups = getattr(module, "num_key_value_groups", 1)
    batch, heads, queries, dim = query.shape
    if (
        groups == 1
        or queries > MAX_GROUPED_QUERIES
        or attention_mask is None
        or attention_mask.dim() != 4
        or attention_mask.shape[1] != 1
        or kwargs.get("position_bias") is not None
        or kwargs.get("softcap") is not None
        or dropout
    ):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout, scaling, **kwargs)
    stacked = query.reshape(batch, heads // groups, groups * queries, dim)
    mask = attention_mask[:, :, None].expand(-1, -1, groups, -1, -1).reshape(batch, 1, groups * queries, -1)
    output = torch.nn.functional.scaled_dot_product_attention(
        stacked, key, value, attn_mask=mask[..., : key.shape[-2]], scale=scaling
    )
    return output.reshape(batch, heads, queries, dim).transpose(1, 2).contiguous(), None


@functools.cache
def _register() -> bool:
    try:
        from transformers import AttentionInterface
        from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask
    except ImportError:
        return False
    AttentionInterface.register(GROUPED_SDPA, grouped_sdpa)
    ALL_MASK_ATTENTION_FUNCTIONS.register(GROUPED_SDPA, sdpa_mask)
    return True


@contextlib.contextmanager
def grouped_attention(model: Any) -> Iterator[bool]:
    """Run the enclosed passes of an sdpa model with grouped_sdpa (the config's attention implementation is
    switched for the duration and restored after); yields whether it did. Other attention implementations,
    and transformers versions without an attention registry, are left as they are."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "_attn_implementation", None) != "sdpa" or not _register():
        yield False
        return
    config._attn_implementation = GROUPED_SDPA
    try:
        yield True
    finally:
        config._attn_implementation = "sdpa"
