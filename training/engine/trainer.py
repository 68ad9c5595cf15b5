"""LoRA fine-tuning with a plain PyTorch loop that checkpoints and resumes exactly.

Why a plain loop rather than `transformers.Trainer`: the job layer needs three things that Trainer makes
awkward: a cancel check between steps that leaves a clean checkpoint, a resume that reproduces the
uninterrupted run bit for bit (optimizer, scheduler, RNG and data order restored from one directory we
control and write atomically), and progress figures (tokens/s, ETA) reported through a plain callback.
The loop is short enough to read in one sitting.

Layout of `output_dir`:
    checkpoints/step-00000050/   adapter/ (PEFT), optimizer.pt, scheduler.pt, scaler.pt, rng.pt, state.json
    adapter/                     the final adapter (PEFT format) + qasynth_training.json (settings, loss curve)
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from qasynth_lib.files import atomic_directory, atomic_write
from training.engine.device import autocast, dtype_name, resolve_device, resolve_dtype
from training.engine.formatting import (
    IGNORE_INDEX,
    EncodedExample,
    PromptTemplate,
    QAExample,
    default_template,
    encode_examples,
    left_pad,
)
from training.engine.lora import LoraSettings, build_lora_config

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

STATE_FILE = "state.json"
RUN_INFO_FILE = "qasynth_training.json"
SCHEDULERS = {"linear": "linear", "cosine": "cosine", "constant": "constant_with_warmup"}


class TrainingError(RuntimeError):
    """Training cannot start or continue (bad settings, a checkpoint from a different run, ...)."""


@dataclass
class TrainConfig:
    """Everything that defines a training run. Fields that change the result form its `signature()`."""

    base_model: str
    output_dir: str
    language: str = "en"
    template: PromptTemplate | None = None
    lora: LoraSettings = field(default_factory=LoraSettings)
    epochs: int = 3
    max_steps: int | None = None
    learning_rate: float = 2e-4
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    max_seq_length: int = 512
    seed: int = 42
    warmup_ratio: float = 0.03
    lr_scheduler: str = "linear"
    weight_decay: float = 0.0
    max_grad_norm: float | None = 1.0
    checkpoint_every: int = 50
    keep_checkpoints: int = 2
    device: str = "auto"
    dtype: str = "auto"
    gradient_checkpointing: bool = False

    def __post_init__(self) -> None:
        if self.template is None:
            self.template = default_template(self.language)
        elif isinstance(self.template, Mapping):
            self.template = PromptTemplate.from_dict(dict(self.template))
        if isinstance(self.lora, Mapping):
            self.lora = LoraSettings.from_dict(dict(self.lora))
        problems = []
        if self.max_steps is None and self.epochs < 1:
            problems.append(f"epochs must be >= 1 (got {self.epochs})")
        if self.max_steps is not None and self.max_steps < 1:
            problems.append(f"max_steps must be >= 1 (got {self.max_steps})")
        for name in ("batch_size", "gradient_accumulation_steps", "checkpoint_every", "keep_checkpoints"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1 (got {getattr(self, name)})")
        if self.max_seq_length < 8:
            problems.append(f"max_seq_length must be >= 8 (got {self.max_seq_length})")
        if not self.learning_rate > 0:
            problems.append(f"learning_rate must be > 0 (got {self.learning_rate})")
        if not 0 <= self.warmup_ratio < 1:
            problems.append(f"warmup_ratio must be in [0, 1) (got {self.warmup_ratio})")
        if self.lr_scheduler not in SCHEDULERS:
            problems.append(f"lr_scheduler must be one of {', '.join(SCHEDULERS)} (got {self.lr_scheduler!r})")
        if problems:
            raise ValueError("invalid training settings: " + "; ".join(problems))

    @property
    def prompt_template(self) -> PromptTemplate:
        """The template as __post_init__ left it (a PromptTemplate: the field only accepts None or a dict on input)."""
        if not isinstance(self.template, PromptTemplate):
            raise ValueError("TrainConfig.template was replaced after construction; pass a PromptTemplate")
        return self.template

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["template"] = self.prompt_template.to_dict()
        data["lora"] = self.lora.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        return cls(**dict(data))

    def signature(self) -> dict[str, Any]:
        """The settings a checkpoint must share to be resumed (paths, device and bookkeeping excluded)."""
        data = self.to_dict()
        for key in ("output_dir", "device", "dtype", "checkpoint_every", "keep_checkpoints", "gradient_checkpointing"):
            data.pop(key)
        return data


@dataclass(frozen=True)
class TrainProgress:
    """What the loop reports after every optimizer step."""

    step: int
    total_steps: int
    loss: float
    learning_rate: float
    tokens_per_s: float
    eta_s: float
    epoch: float
    elapsed_s: float


@dataclass
class TrainResult:
    status: str  # "completed" or "stopped"
    step: int
    total_steps: int
    loss_history: list[dict[str, float]]
    adapter_dir: str | None
    checkpoint_dir: str | None
    resumed_from_step: int
    tokens_per_s: float
    elapsed_s: float
    device: str
    dtype: str
    target_modules: list[str]
    truncated_contexts: int


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state() -> dict[str, Any]:
    np_state = np.random.get_state(legacy=True)
    if not isinstance(np_state, tuple):  # legacy=True always gives the tuple form
        raise TypeError(f"unexpected numpy RNG state {type(np_state).__name__}")
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": (np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_tokenizer(path: str) -> PreTrainedTokenizerBase:
    """Tokenizer of the base model with a pad token (EOS when the model defines none)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base_model(path: str, device: torch.device, dtype: torch.dtype) -> Any:
    """The base causal LM on `device` (a PreTrainedModel; Any because the stubs type `.to` oddly)."""
    from transformers import AutoModelForCausalLM

    try:
        model: Any = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    except OSError as exc:
        raise TrainingError(f"cannot load base model from {path}: {exc}") from exc
    return model.to(device)


def _as_example(item: Any, index: int) -> QAExample:
    if isinstance(item, QAExample):
        return item
    try:
        return QAExample(context=str(item["context"]), question=str(item["question"]), answer=str(item["answer"]))
    except (KeyError, TypeError) as exc:
        raise TrainingError(f"training item {index + 1} needs context, question and answer ({exc})") from exc


def dataset_fingerprint(encoded: Sequence[EncodedExample]) -> str:
    digest = hashlib.sha256()
    for ex in encoded:
        digest.update(json.dumps([ex.input_ids, ex.labels]).encode())
    return digest.hexdigest()


@dataclass
class Batch:
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor
    labels: torch.Tensor
    answer_span: int  # the labelled tokens all sit in the last `answer_span` positions (left padding)


def collate(encoded: Sequence[EncodedExample], pad_id: int, device: torch.device) -> Batch:
    """Left-padded batch with explicit position ids, so padding never shifts positions."""
    ids, mask = left_pad([e.input_ids for e in encoded], pad_id)
    labels, _ = left_pad([e.labels for e in encoded], pad_id, fill=IGNORE_INDEX)
    attention = torch.tensor(mask, dtype=torch.long)
    span = max(len(e.labels) - next(i for i, v in enumerate(e.labels) if v != IGNORE_INDEX) for e in encoded)
    return Batch(
        input_ids=torch.tensor(ids, dtype=torch.long, device=device),
        attention_mask=attention.to(device),
        position_ids=(attention.cumsum(-1) - 1).clamp(min=0).to(device),
        labels=torch.tensor(labels, dtype=torch.long, device=device),
        answer_span=span,
    )


def batch_loss_sum(model: torch.nn.Module, batch: Batch, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Summed cross-entropy over the answer tokens of a batch.

    Only the last `answer_span + 1` positions need logits (left padding puts every answer at the end), so we
    ask the model for just those: with a 49k vocabulary the full logits would dominate memory and time.
    """
    keep = batch.answer_span + 1
    with autocast(device, dtype):
        out = model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            position_ids=batch.position_ids,
            logits_to_keep=keep,
            use_cache=False,
        )
    logits = out.logits[:, -keep:-1, :].float()
    targets = batch.labels[:, -batch.answer_span :]
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum"
    )


@torch.no_grad()
def dataset_loss(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[QAExample | Mapping[str, str]],
    template: PromptTemplate,
    *,
    max_seq_length: int = 512,
    batch_size: int = 8,
) -> float:
    """Mean cross-entropy per answer token over `examples` (eval mode): the figure training should lower."""
    encoded = encode_examples(tokenizer, template, [_as_example(e, i) for i, e in enumerate(examples)], max_seq_length)
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(encoded), batch_size):
        chunk = encoded[start : start + batch_size]
        total += batch_loss_sum(model, collate(chunk, tokenizer.pad_token_id, device), device, dtype).item()
        count += sum(e.answer_token_count for e in chunk)
    model.train(was_training)
    return total / max(count, 1)


class _Schedule:
    """Which examples each optimizer step uses: a seeded permutation per epoch, cut into micro-batches.

    Micro-batches run across epoch ends, so a step's content depends only on (seed, step): that is what
    makes a resumed run see the same data in the same order.
    """

    def __init__(self, n_examples: int, config: TrainConfig) -> None:
        self.n = n_examples
        self.bs = config.batch_size
        self.ga = config.gradient_accumulation_steps
        self.seed = config.seed
        self.per_epoch = math.ceil(n_examples / self.bs)
        if config.max_steps is not None:
            self.total_steps = config.max_steps
            self.total_micro = config.max_steps * self.ga
        else:
            self.total_micro = config.epochs * self.per_epoch
            self.total_steps = math.ceil(self.total_micro / self.ga)
        self._orders: dict[int, list[int]] = {}

    def order(self, epoch: int) -> list[int]:
        if epoch not in self._orders:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._orders = {epoch: torch.randperm(self.n, generator=generator).tolist()}
        return self._orders[epoch]

    def set_order(self, epoch: int, order: list[int]) -> None:
        if sorted(order) != list(range(self.n)):
            raise TrainingError("the data order stored in the checkpoint does not match the dataset size")
        self._orders = {epoch: order}

    def micro_batches(self, step: int) -> list[list[int]]:
        out = []
        for g in range(step * self.ga, min((step + 1) * self.ga, self.total_micro)):
            epoch, pos = divmod(g, self.per_epoch)
            out.append(self.order(epoch)[pos * self.bs : (pos + 1) * self.bs])
        return out

    def epoch_of(self, step: int) -> int:
        return (step * self.ga) // self.per_epoch

    def epoch_progress(self, steps_done: int) -> float:
        return min(steps_done * self.ga, self.total_micro) / self.per_epoch


def _checkpoints(root: Path) -> list[Path]:
    """Complete checkpoints (state.json is written last inside an atomically published directory)."""
    if not root.is_dir():
        return []
    found = [p for p in root.glob("step-*") if p.is_dir() and (p / STATE_FILE).is_file()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    found = _checkpoints(Path(output_dir) / "checkpoints")
    return found[-1] if found else None


def _signature_diff(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    keys = sorted(set(stored) | set(current))
    return [f"{k}: {stored.get(k)!r} vs {current.get(k)!r}" for k in keys if stored.get(k) != current.get(k)]


@dataclass(frozen=True)
class _Loaded:
    """Step 1 (load): where the run writes, the device and dtype, and the base model's tokenizer."""

    out_dir: Path
    ckpt_root: Path
    adapter_dir: Path
    device: torch.device
    dtype: torch.dtype
    tokenizer: Any


@dataclass(frozen=True)
class _Data:
    """Step 2 (prepare data): the encoded examples and what a checkpoint must match to be resumed."""

    encoded: list[EncodedExample]
    fingerprint: str
    signature: dict[str, Any]
    schedule: _Schedule

    @property
    def total_steps(self) -> int:
        return self.schedule.total_steps

    @property
    def truncated(self) -> int:
        return sum(e.context_truncated for e in self.encoded)


@dataclass
class _Trainable:
    """Step 3 (build the LoRA model): the PEFT model with its optimizer, scheduler and gradient scaler, and
    where the loop stands (moved on by a resumed checkpoint and by the loop)."""

    model: Any
    lora_config: Any
    params: list[torch.nn.Parameter]
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    start_step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    checkpoint: Path | None = None


@dataclass
class _LoopOutcome:
    """Step 4 (the loop): where it stopped and how fast it went in this session."""

    step: int
    stopped: bool
    last_saved: Path | None
    session_tokens: int
    elapsed: float


def _load(config: TrainConfig) -> _Loaded:
    out_dir = Path(config.output_dir)
    device = resolve_device(config.device)
    return _Loaded(
        out_dir=out_dir,
        ckpt_root=out_dir / "checkpoints",
        adapter_dir=out_dir / "adapter",
        device=device,
        dtype=resolve_dtype(config.dtype, device),
        tokenizer=load_tokenizer(config.base_model),
    )


def _prepare_data(config: TrainConfig, examples: Sequence[QAExample | Mapping[str, str]], tokenizer: Any) -> _Data:
    qa = [_as_example(e, i) for i, e in enumerate(examples)]
    encoded = encode_examples(tokenizer, config.prompt_template, qa, config.max_seq_length)
    return _Data(
        encoded=list(encoded),
        fingerprint=dataset_fingerprint(encoded),
        signature=config.signature(),
        schedule=_Schedule(len(encoded), config),
    )


def _already_trained(loaded: _Loaded, data: _Data, say: Callable[[str], None]) -> TrainResult | None:
    """The finished adapter's result when the output directory already holds one trained like this run."""
    info_path = loaded.adapter_dir / RUN_INFO_FILE
    if not info_path.is_file():
        return None
    done = json.loads(info_path.read_text())
    diff = _signature_diff(done["signature"], data.signature)
    if diff or done["dataset_fingerprint"] != data.fingerprint:
        raise TrainingError(
            f"{loaded.out_dir} already holds a finished adapter trained with other settings or data: "
            + ("; ".join(diff) or "dataset differs")
        )
    say(f"adapter already complete at {loaded.adapter_dir}; nothing to do")
    return TrainResult(
        status="completed",
        step=done["steps"],
        total_steps=done["steps"],
        loss_history=done["loss_history"],
        adapter_dir=str(loaded.adapter_dir),
        checkpoint_dir=None,
        resumed_from_step=done["steps"],
        tokens_per_s=0.0,
        elapsed_s=0.0,
        device=str(loaded.device),
        dtype=dtype_name(loaded.dtype),
        target_modules=done["target_modules"],
        truncated_contexts=done["truncated_contexts"],
    )


def _build_lora_model(config: TrainConfig, loaded: _Loaded, total_steps: int) -> _Trainable:
    from peft import get_peft_model
    from transformers import get_scheduler

    set_seed(config.seed)
    base = load_base_model(config.base_model, loaded.device, loaded.dtype)
    if config.gradient_checkpointing:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    lora_config = build_lora_config(base, config.lora)
    model = get_peft_model(base, lora_config)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = get_scheduler(
        SCHEDULERS[config.lr_scheduler],
        optimizer,
        num_warmup_steps=math.ceil(total_steps * config.warmup_ratio),
        num_training_steps=total_steps,
    )
    scaler = torch.amp.GradScaler(loaded.device.type, enabled=loaded.dtype == torch.float16)
    return _Trainable(model, lora_config, params, optimizer, scheduler, scaler)


def _resume_from_checkpoint(
    trainable: _Trainable, loaded: _Loaded, data: _Data, *, resume: bool, say: Callable[[str], None]
) -> None:
    """Load the last checkpoint into the model, optimizer, scheduler, scaler, RNGs and data order (or, when
    not resuming, delete the old checkpoints)."""
    from peft import set_peft_model_state_dict
    from peft.utils import load_peft_weights

    checkpoint = latest_checkpoint(loaded.out_dir) if resume else None
    if not resume and loaded.ckpt_root.exists():
        shutil.rmtree(loaded.ckpt_root)
    if checkpoint is None:
        return
    state = json.loads((checkpoint / STATE_FILE).read_text())
    diff = _signature_diff(state["signature"], data.signature)
    if diff:
        raise TrainingError(f"checkpoint {checkpoint} was written with other settings: " + "; ".join(diff))
    if state["dataset_fingerprint"] != data.fingerprint:
        raise TrainingError(f"checkpoint {checkpoint} was written for a different training set")
    device = loaded.device
    set_peft_model_state_dict(trainable.model, load_peft_weights(str(checkpoint / "adapter"), device=str(device)))
    trainable.optimizer.load_state_dict(torch.load(checkpoint / "optimizer.pt", map_location=device, weights_only=True))
    trainable.scheduler.load_state_dict(torch.load(checkpoint / "scheduler.pt", weights_only=True))
    trainable.scaler.load_state_dict(torch.load(checkpoint / "scaler.pt", weights_only=True))
    _set_rng_state(torch.load(checkpoint / "rng.pt", weights_only=True))
    data.schedule.set_order(state["data_order"]["epoch"], state["data_order"]["order"])
    trainable.start_step = state["step"]
    trainable.history = state["loss_history"]
    trainable.checkpoint = checkpoint
    say(f"resumed from checkpoint {checkpoint.name} (step {trainable.start_step} of {data.total_steps})")


def _save_checkpoint(config: TrainConfig, trainable: _Trainable, loaded: _Loaded, data: _Data, step: int) -> Path:
    epoch = data.schedule.epoch_of(step)
    target = loaded.ckpt_root / f"step-{step:08d}"
    with atomic_directory(target) as tmp:
        trainable.model.save_pretrained(str(tmp / "adapter"))
        torch.save(trainable.optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(trainable.scheduler.state_dict(), tmp / "scheduler.pt")
        torch.save(trainable.scaler.state_dict(), tmp / "scaler.pt")
        torch.save(_rng_state(), tmp / "rng.pt")
        state = {
            "step": step,
            "total_steps": data.total_steps,
            "signature": data.signature,
            "dataset_fingerprint": data.fingerprint,
            "data_order": {"epoch": epoch, "order": data.schedule.order(epoch)},
            "loss_history": trainable.history,
        }
        (tmp / STATE_FILE).write_text(json.dumps(state))
    for old in _checkpoints(loaded.ckpt_root)[: -config.keep_checkpoints]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def _loop(
    config: TrainConfig,
    trainable: _Trainable,
    loaded: _Loaded,
    data: _Data,
    *,
    progress: Callable[[TrainProgress], None] | None,
    should_stop: Callable[[], bool] | None,
) -> _LoopOutcome:
    """Optimizer steps from the resumed step to the end, a checkpoint every `checkpoint_every` steps; stops
    early (before a step) when `should_stop()` says so."""
    model, optimizer, scheduler, scaler = trainable.model, trainable.optimizer, trainable.scheduler, trainable.scaler
    device, dtype, total_steps, history = loaded.device, loaded.dtype, data.total_steps, trainable.history
    model.train()
    session_tokens, session_start, steps_here = 0, time.perf_counter(), 0
    last_saved = trainable.checkpoint
    step = trainable.start_step
    stopped = False
    while step < total_steps:
        if should_stop is not None and should_stop():
            stopped = True
            break
        micro = [[data.encoded[i] for i in idx] for idx in data.schedule.micro_batches(step)]
        n_answer = sum(e.answer_token_count for mb in micro for e in mb)
        lr = scheduler.get_last_lr()[0]
        step_loss = 0.0
        for mb in micro:
            batch = collate(mb, loaded.tokenizer.pad_token_id, device)
            loss = batch_loss_sum(model, batch, device, dtype) / n_answer
            scaler.scale(loss).backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
            step_loss += loss.item()
            session_tokens += int(batch.attention_mask.sum())
        if not math.isfinite(step_loss):
            raise TrainingError(f"loss became {step_loss} at step {step + 1}; lower the learning rate")
        if config.max_grad_norm:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(trainable.params, config.max_grad_norm)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        steps_here += 1
        elapsed = time.perf_counter() - session_start
        history.append({"step": step, "loss": step_loss, "lr": lr})
        if step % config.checkpoint_every == 0 and step < total_steps:
            last_saved = _save_checkpoint(config, trainable, loaded, data, step)
        if progress is not None:
            progress(
                TrainProgress(
                    step=step,
                    total_steps=total_steps,
                    loss=step_loss,
                    learning_rate=lr,
                    tokens_per_s=session_tokens / elapsed if elapsed > 0 else 0.0,
                    eta_s=(total_steps - step) * elapsed / steps_here,
                    epoch=data.schedule.epoch_progress(step),
                    elapsed_s=elapsed,
                )
            )
    return _LoopOutcome(step, stopped, last_saved, session_tokens, time.perf_counter() - session_start)


def _save_adapter(
    config: TrainConfig, trainable: _Trainable, loaded: _Loaded, data: _Data, step: int, target_modules: list[str]
) -> None:
    """Step 5 (save): the finished adapter with its run info, written atomically (all or nothing)."""
    with atomic_directory(loaded.adapter_dir) as tmp:
        trainable.model.save_pretrained(str(tmp))
        info = {
            "config": config.to_dict(),
            "signature": data.signature,
            "dataset_fingerprint": data.fingerprint,
            "steps": step,
            "loss_history": trainable.history,
            "target_modules": target_modules,
            "truncated_contexts": data.truncated,
            "n_examples": len(data.encoded),
        }
        with atomic_write(tmp / RUN_INFO_FILE, "w", encoding="utf-8") as handle:
            json.dump(info, handle, ensure_ascii=False, indent=1)


def train(
    config: TrainConfig,
    examples: Sequence[QAExample | Mapping[str, str]],
    *,
    progress: Callable[[TrainProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    log: Callable[[str], None] | None = None,
    resume: bool = True,
) -> TrainResult:
    """Train a LoRA adapter on (context, question, answer) examples; resume from the last checkpoint if any.

    `should_stop()` is checked after every step: when it returns True a checkpoint is written and the
    result has status "stopped"; calling `train` again with the same settings continues from there.
    A worker killed mid-run continues from the last periodic checkpoint (every `checkpoint_every` steps).
    The steps: load, prepare the data, build the LoRA model (and resume it), loop, save.
    """
    say = log or (lambda _msg: None)
    if not examples:
        raise TrainingError("the training set is empty")

    loaded = _load(config)
    data = _prepare_data(config, examples, loaded.tokenizer)
    finished = _already_trained(loaded, data, say) if resume else None
    if finished is not None:
        return finished

    trainable = _build_lora_model(config, loaded, data.total_steps)
    _resume_from_checkpoint(trainable, loaded, data, resume=resume, say=say)
    lora_targets = trainable.lora_config.target_modules
    if not isinstance(lora_targets, (set, list)):
        raise TrainingError(f"LoRA config has no list of target modules ({lora_targets!r})")
    target_modules = sorted(lora_targets)
    if data.truncated:
        say(f"{data.truncated} training contexts were cut to fit max_seq_length={config.max_seq_length}")

    outcome = _loop(config, trainable, loaded, data, progress=progress, should_stop=should_stop)
    step = outcome.step
    common: dict[str, Any] = {
        "total_steps": data.total_steps,
        "loss_history": trainable.history,
        "resumed_from_step": trainable.start_step,
        "tokens_per_s": outcome.session_tokens / outcome.elapsed if outcome.elapsed > 0 else 0.0,
        "elapsed_s": outcome.elapsed,
        "device": str(loaded.device),
        "dtype": dtype_name(loaded.dtype),
        "target_modules": target_modules,
        "truncated_contexts": data.truncated,
    }
    if outcome.stopped:
        last_saved = outcome.last_saved
        if last_saved is None or int(last_saved.name.split("-")[1]) != step:
            last_saved = _save_checkpoint(config, trainable, loaded, data, step) if step > 0 else None
        say(f"stopped at step {step} of {data.total_steps}")
        return TrainResult(
            status="stopped",
            step=step,
            adapter_dir=None,
            checkpoint_dir=str(last_saved) if last_saved else None,
            **common,
        )

    _save_adapter(config, trainable, loaded, data, step, target_modules)
    say(f"adapter saved to {loaded.adapter_dir}")
    return TrainResult(
        status="completed", step=step, adapter_dir=str(loaded.adapter_dir), checkpoint_dir=None, **common
    )
