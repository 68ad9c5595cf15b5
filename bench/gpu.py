"""GPU benchmark in one command: the decoding engine (QA generation, evaluation predictions) beside plain
`model.generate` (dynamic and static cache) on the same prompts in the same run, and LoRA training of a Llama
and a GPT-NeoX shape as tokens/s and approximate TFLOP/s (4N rule: forward 2N + backward through the frozen
base 2N FLOPs per token).

No weights travel: every model is built with random weights from a config (the real SmolLM2-135M config and
tokenizer in bench/assets/smollm2-135m; a 1.1B Llama shape; a GPT-NeoX shape like a 1.4B Japanese GPT-NeoX:
hidden 2048, 24 layers). Random weights give true throughput and CUDA-path correctness, not quality, so
decoders are compared with the token budget forced (`min_new_tokens`).

Imports only the Django-free packages (decoding/, generation/engine/, training/engine/), so it runs on a GPU
machine's own image (Python 3.12, its own torch/transformers/peft, no Django).

    python bench/gpu.py --out DIR                 # sizes follow the device: full on CUDA, tiny on CPU
    python bench/gpu.py --out DIR --size tiny     # the code path only (what CPU CI can afford)

Writes DIR/gpu-bench.json and DIR/gpu-bench.md (also printed); every section is recorded even if another
fails (its error is in the JSON).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

ASSETS = ROOT / "bench" / "assets" / "smollm2-135m"

SIZES: dict[str, dict[str, Any]] = {
    "full": {
        "prompts": 512,
        "new_tokens": 128,
        "plain_batch": 256,
        "predict_items": 512,
        "predict_batch": 64,
        "predict_new_tokens": 32,
        "train_batch": 16,
        "train_seq": 512,
        "train_steps": 5,
        "tiny": False,
    },
    "tiny": {
        "prompts": 8,
        "new_tokens": 8,
        "plain_batch": 4,
        "predict_items": 6,
        "predict_batch": 4,
        "predict_new_tokens": 4,
        "train_batch": 2,
        "train_seq": 64,
        "train_steps": 2,
        "tiny": True,
    },
}


# --- models -----------------------------------------------------------------------------------------------


def tokenizer():
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(ASSETS))
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    return tok


def model_config(arch: str, tok: Any, tiny: bool):
    """smollm2: the real SmolLM2-135M config; llama-1b: TinyLlama's dimensions (1.1B with this vocabulary);
    neox-1.4b: a 1.4B Japanese GPT-NeoX shape (hidden 2048, 24 layers, 16 heads, rotary on 25%)."""
    from transformers import AutoConfig, GPTNeoXConfig, LlamaConfig

    special = dict(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    if arch == "smollm2":
        config = AutoConfig.from_pretrained(str(ASSETS))
    elif arch == "llama-1b":
        config = LlamaConfig(
            vocab_size=len(tok),
            hidden_size=2048,
            intermediate_size=5632,
            num_hidden_layers=22,
            num_attention_heads=32,
            num_key_value_heads=4,
            max_position_embeddings=2048,
            tie_word_embeddings=False,
            **special,
        )
    elif arch == "neox-1.4b":
        config = GPTNeoXConfig(
            vocab_size=len(tok),
            hidden_size=2048,
            intermediate_size=8192,
            num_hidden_layers=24,
            num_attention_heads=16,
            rotary_pct=0.25,
            max_position_embeddings=2048,
            use_parallel_residual=True,
            tie_word_embeddings=False,
            **special,
        )
    else:
        raise ValueError(arch)
    if tiny:
        heads = 4
        config.hidden_size, config.num_hidden_layers, config.num_attention_heads = 64, 2, heads
        config.intermediate_size = 128
        if hasattr(config, "num_key_value_heads"):
            config.num_key_value_heads = 2
        if getattr(config, "head_dim", None):
            config.head_dim = 64 // heads
    return config


def build_model(arch: str, tok: Any, device: torch.device, dtype: torch.dtype, tiny: bool, **kwargs: Any):
    from transformers import AutoModelForCausalLM

    config = model_config(arch, tok, tiny)
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype, **kwargs)
    return model.eval()


def parameters(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


# --- prompts ----------------------------------------------------------------------------------------------


def passages() -> list[dict[str, Any]]:
    data = json.loads((ROOT / "generation" / "fixtures" / "demo_corpus.json").read_text(encoding="utf-8"))
    return [p for c in data["corpora"] if c["language"] == "en" for p in c["passages"]]


def generation_prompts(tok: Any, n: int) -> list[str]:
    """One-shot QA-generation prompts in the chat template, as generation runs send them (shared prefix)."""
    texts = [p["text"] for p in passages()]
    example = texts[0]
    system = "You write question-answer pairs about a passage. One pair per line: Q: ... A: ..."
    prompts = []
    for i in range(n):
        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": f"Passage:\n{example}\n\nWrite 3 pairs."},
            {"role": "assistant", "content": "Q: What is described?\nA: The passage's subject.\n" * 3},
            {"role": "user", "content": f"Passage:\n{texts[(i % (len(texts) - 1)) + 1]}\n\nWrite 3 pairs."},
        ]
        prompts.append(tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
    return prompts


def predict_items(n: int) -> list[dict[str, str]]:
    items = [
        {"context": p["text"], "question": qa["question"]} for p in passages() for qa in p.get("qas", []) or []
    ] or [{"context": p["text"], "question": "What is this about?"} for p in passages()]
    return [items[i % len(items)] for i in range(n)]


# --- timing -----------------------------------------------------------------------------------------------


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, fn: Callable[[], Any]) -> tuple[Any, float]:
    sync(device)
    began = time.perf_counter()
    result = fn()
    sync(device)
    return result, time.perf_counter() - began


def engine_generation(model, tok, prompts: list[str], new_tokens: int, device, *, force_static: bool) -> dict[str, Any]:
    """The engine as generation runs use it: LocalGenerator with the run's default batch size (16); on CUDA
    the engine widens batches to its token budget. A call this size (512 x 128 new tokens) is below
    STATIC_MIN_TOKENS, so a job decodes it with the dynamic cache; `force_static` measures the static path."""
    from dataclasses import replace

    from decoding.engine import DecodeParams
    from generation.engine.local import LocalGenerator

    generator = LocalGenerator(model, tok, batch_size=16)
    decoder = generator.decoder
    if force_static:
        decoder.options = replace(decoder.options, static_min_tokens=0)
    encoded = [generator._encode(p) for p in prompts]  # noqa: SLF001 - the prompts exactly as generation encodes
    params = DecodeParams(max_new_tokens=new_tokens, min_new_tokens=new_tokens, stop=("\n\n\n\n",))
    runs = []
    for label in ("cold (includes compilation)", "warm"):
        completions, seconds = timed(device, lambda: decoder.decode(encoded, params))
        tokens = sum(len(c.token_ids) for c in completions)
        runs.append({"run": label, "seconds": round(seconds, 3), "tokens": tokens, "tokens_per_s": tokens / seconds})
    keys = ("batch_size", "token_budget", "static_cache", "static_min_tokens")
    return {
        "options": {k: getattr(decoder.options, k) for k in keys},
        "static_path": decoder.uses_static(len(encoded) * new_tokens),
        "static_fallback_reason": decoder.static_fallback_reason,
        "runs": runs,
        "cold_tokens_per_s": runs[0]["tokens_per_s"],
        "tokens_per_s": runs[-1]["tokens_per_s"],
    }


def plain_generate(model, tok, prompts: list[str], new_tokens: int, batch: int, device, static: bool):
    """transformers' generate on the same prompts, fixed batches, sorted by length like the engine."""
    order = sorted(prompts, key=lambda p: -len(tok(p, add_special_tokens=False)["input_ids"]))
    extra = {"cache_implementation": "static"} if static else {}

    def run() -> int:
        produced = 0
        for start in range(0, len(order), batch):
            enc = tok(order[start : start + batch], return_tensors="pt", padding=True, add_special_tokens=False)
            enc = {k: v.to(device) for k, v in enc.items()}
            with torch.inference_mode():
                out = model.generate(
                    **enc,
                    max_new_tokens=new_tokens,
                    min_new_tokens=new_tokens,
                    do_sample=False,
                    pad_token_id=tok.pad_token_id,
                    **extra,
                )
            produced += (out.shape[1] - enc["input_ids"].shape[1]) * out.shape[0]
        return produced

    runs = []
    for label in ("cold (includes compilation)", "warm") if static else ("warm",):
        tokens, seconds = timed(device, run)
        runs.append({"run": label, "seconds": round(seconds, 3), "tokens": tokens, "tokens_per_s": tokens / seconds})
    return {"batch": batch, "runs": runs, "tokens_per_s": runs[-1]["tokens_per_s"]}


def prediction(
    model, tok, n: int, batch: int, new_tokens: int, device, plain: bool, *, force_static: bool = True
) -> dict[str, Any]:
    """Evaluation predictions (training.engine.predict) vs plain generate on the same encoded prompts. This
    call (n x new_tokens) is below STATIC_MIN_TOKENS, so an evaluation job this small decodes it with the
    dynamic cache; `force_static` measures the static path (compiled already by the generation sections)."""
    from dataclasses import replace

    from decoding.engine import BatchDecoder, DecoderOptions
    from training.engine.formatting import default_template, encode_prompt, left_pad
    from training.engine.predict import predict

    items = predict_items(n)
    template = default_template("en")
    if not plain:
        options = DecoderOptions.for_device(model, batch_size=batch)
        if force_static:
            options = replace(options, static_min_tokens=0)
        preds, seconds = timed(
            device,
            lambda: predict(model, tok, items, template, batch_size=batch, max_new_tokens=new_tokens, options=options),
        )
        tokens = sum(p.output_tokens for p in preds)
        return {
            "static_path": BatchDecoder(model, tok, options).uses_static(n * new_tokens),
            "batch_size_setting": batch,
            "seconds": round(seconds, 3),
            "tokens": tokens,
            "tokens_per_s": tokens / seconds,
        }
    prompts = sorted((encode_prompt(tok, template, it["context"], it["question"], 2048)[0] for it in items), key=len)[
        ::-1
    ]

    def run() -> int:
        produced = 0
        for start in range(0, len(prompts), batch):
            ids, mask = left_pad(prompts[start : start + batch], tok.pad_token_id)
            with torch.inference_mode():
                out = model.generate(
                    input_ids=torch.tensor(ids, device=device),
                    attention_mask=torch.tensor(mask, device=device),
                    max_new_tokens=new_tokens,
                    do_sample=False,
                    pad_token_id=tok.pad_token_id,
                )
            new = out[:, len(ids[0]) :]
            produced += int((new != tok.eos_token_id).sum())
        return produced

    tokens, seconds = timed(device, run)
    return {"batch": batch, "seconds": round(seconds, 3), "tokens": tokens, "tokens_per_s": tokens / seconds}


def lora_training(arch, tok, device, dtype, size: dict[str, Any], *, autocast: bool, attn: str | None):
    """LoRA steps with the trainer's own loss (training.engine.trainer.batch_loss_sum: autocast, logits for the
    answer span only) and its default targets; `autocast=False` runs the bf16 model without autocast."""
    from peft import get_peft_model

    from training.engine.lora import LoraSettings, build_lora_config
    from training.engine.trainer import Batch, batch_loss_sum

    kwargs = {"attn_implementation": attn} if attn else {}
    model = build_model(arch, tok, device, dtype, size["tiny"], **kwargs)
    n_params = parameters(model)
    embed = model.get_input_embeddings().weight
    tied = embed is model.get_output_embeddings().weight
    n_matmul = n_params - (0 if tied else embed.numel())  # an embedding lookup does no multiply-adds
    chosen_attn = getattr(model.config, "_attn_implementation", None)
    lora = build_lora_config(model, LoraSettings())
    model = get_peft_model(model, lora)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    b, t = size["train_batch"], size["train_seq"]
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, len(tok), (b, t), generator=g).to(device)
    span = 64 if t > 128 else 8
    labels = torch.full_like(ids, -100)
    labels[:, -span:] = ids[:, -span:]
    mask = torch.ones_like(ids)
    batch = Batch(ids, mask, (mask.cumsum(-1) - 1).to(device), labels, span)
    loss_dtype = dtype if autocast else torch.float32  # float32: batch_loss_sum's autocast is a no-op

    def step() -> float:
        loss = batch_loss_sum(model, batch, device, loss_dtype) / (b * span)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    step()  # warm-up (kernel selection, allocator)
    losses, seconds = timed(device, lambda: [step() for _ in range(size["train_steps"])])
    tokens = b * t * size["train_steps"]
    result = {
        "arch": arch,
        "parameters": n_params,
        "attn_implementation": chosen_attn,
        "autocast": autocast,
        "lora_targets": sorted(lora.target_modules),
        "batch": f"{b} x {t}",
        "tokens_per_s": tokens / seconds,
        "tflops_4n": 4 * n_params * tokens / seconds / 1e12,
        "tflops_4n_without_input_embedding": 4 * n_matmul * tokens / seconds / 1e12,
        "loss": losses[-1],
    }
    return result


# --- main -------------------------------------------------------------------------------------------------


def environment(device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    import transformers

    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "device": str(device),
        "dtype": str(dtype).removeprefix("torch."),
    }
    try:
        import peft

        env["peft"] = peft.__version__
    except ImportError:
        env["peft"] = None
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
        env["cuda"] = torch.version.cuda
    return env


def section(results: dict[str, Any], name: str, fn: Callable[[], Any], out: Path) -> None:
    print(f"== {name}", flush=True)
    began = time.perf_counter()
    try:
        results["sections"][name] = fn()
    except Exception as exc:  # one failing section must not lose the others' figures
        results["sections"][name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    gc.collect()  # the section's models go before the next one is built
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    results["sections"][name]["section_seconds"] = round(time.perf_counter() - began, 1)
    print(json.dumps(results["sections"][name], default=str)[:600], flush=True)
    (out / "gpu-bench.json").write_text(json.dumps(results, indent=2, default=str))


def markdown(results: dict[str, Any]) -> str:
    s = results["sections"]
    env = results["environment"]
    lines = [
        f"Device: {env.get('gpu', env['device'])}, torch {env['torch']}, transformers {env['transformers']}, "
        f"peft {env.get('peft')}, {env['dtype']}, size {results['size']}",
        "",
        "| measurement | tokens/s | notes |",
        "|---|---|---|",
    ]

    def row(label: str, key: str, note: Callable[[dict], str] = lambda r: "") -> None:
        r = s.get(key, {})
        if "tokens_per_s" in r:
            lines.append(f"| {label} | {r['tokens_per_s']:,.0f} | {note(r)} |")
        elif r:
            lines.append(f"| {label} | failed | {r.get('error', '')[:120]} |")

    row("engine: QA generation, static path where CUDA", "engine_generation", lambda r: f"options {r['options']}")
    row(
        "engine: the same, as a job chooses (warm)",
        "engine_generation_as_jobs_choose",
        lambda r: f"static path: {r['static_path']}; cold run {r['cold_tokens_per_s']:,.0f} tokens/s",
    )
    row("plain generate, dynamic cache", "plain_generate_dynamic", lambda r: f"batch {r['batch']}")
    row("plain generate, static cache (compiled)", "plain_generate_static", lambda r: f"batch {r['batch']}")
    row(
        "engine: evaluation predictions",
        "engine_prediction",
        lambda r: f"batch setting {r['batch_size_setting']}, static path: {r['static_path']}",
    )
    row(
        "engine: the same, as a job this size chooses",
        "engine_prediction_as_jobs_choose",
        lambda r: f"static path: {r['static_path']}",
    )
    row("plain generate on the prediction prompts", "plain_prediction", lambda r: f"batch {r['batch']}")
    eng, static = s.get("engine_generation", {}), s.get("plain_generate_static", {})
    if "tokens_per_s" in eng and "tokens_per_s" in static:
        lines.append(f"\nengine / plain static generate: {eng['tokens_per_s'] / static['tokens_per_s']:.2f}x")
    lines += [
        "",
        "| LoRA training | params | attention | autocast | tokens/s | TFLOP/s (4N) | TFLOP/s (4N, no input embed) |",
        "|---|---|---|---|---|---|---|",
    ]
    per_param = {}
    for key, r in s.items():
        if key.startswith("train_"):
            if "tokens_per_s" in r:
                lines.append(
                    f"| {key} | {r['parameters'] / 1e9:.2f}B | {r['attn_implementation']} | {r['autocast']} | "
                    f"{r['tokens_per_s']:,.0f} | {r['tflops_4n']:.1f} | {r['tflops_4n_without_input_embedding']:.1f} |"
                )
                per_param[key] = r["tflops_4n_without_input_embedding"]
            else:
                lines.append(f"| {key} | failed: {r.get('error', '')[:100]} | | | | | |")
    base = per_param.get("train_llama-1b")
    if base:
        lines.append("")
        for key, value in per_param.items():
            if key.startswith("train_neox"):
                lines.append(f"{key}: Llama/NeoX per-parameter throughput {base / value:.2f}x (target <= 1.5x)")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for gpu-bench.json and gpu-bench.md")
    parser.add_argument("--size", choices=["auto", "full", "tiny"], default="auto")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--skip", default="", help="comma-separated section prefixes to skip (e.g. train_neox)")
    args = parser.parse_args()

    from decoding.loading import inference_placement

    device, dtype = inference_placement(args.device, "auto")
    size_name = args.size if args.size != "auto" else ("full" if device.type == "cuda" else "tiny")
    size = SIZES[size_name]
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"environment": environment(device, dtype), "size": size_name, "sections": {}}
    print(json.dumps(results["environment"]), flush=True)
    skip = tuple(s for s in args.skip.split(",") if s)

    tok = tokenizer()
    prompts = generation_prompts(tok, size["prompts"])
    holder: dict[str, Any] = {}

    def model():
        if "smollm2" not in holder:
            holder["smollm2"] = build_model("smollm2", tok, device, dtype, size["tiny"])
        return holder["smollm2"]

    n_new = size["new_tokens"]
    plan: list[tuple[str, Callable[[], Any]]] = [
        ("engine_generation", lambda: engine_generation(model(), tok, prompts, n_new, device, force_static=True)),
        (
            "engine_generation_as_jobs_choose",
            lambda: engine_generation(model(), tok, prompts, n_new, device, force_static=False),
        ),
        (
            "plain_generate_dynamic",
            lambda: plain_generate(model(), tok, prompts, n_new, size["plain_batch"], device, False),
        ),
        (
            "plain_generate_static",
            lambda: plain_generate(model(), tok, prompts, n_new, size["plain_batch"], device, True),
        ),
        (
            "engine_prediction",
            lambda: prediction(
                model(), tok, size["predict_items"], size["predict_batch"], size["predict_new_tokens"], device, False
            ),
        ),
        (
            "engine_prediction_as_jobs_choose",
            lambda: prediction(
                model(),
                tok,
                size["predict_items"],
                size["predict_batch"],
                size["predict_new_tokens"],
                device,
                False,
                force_static=False,
            ),
        ),
        (
            "plain_prediction",
            lambda: prediction(
                model(), tok, size["predict_items"], size["predict_batch"], size["predict_new_tokens"], device, True
            ),
        ),
        ("train_llama-1b", lambda: lora_training("llama-1b", tok, device, dtype, size, autocast=True, attn=None)),
        ("train_neox-1.4b", lambda: lora_training("neox-1.4b", tok, device, dtype, size, autocast=True, attn=None)),
        (
            "train_neox-1.4b_no-autocast",
            lambda: lora_training("neox-1.4b", tok, device, dtype, size, autocast=False, attn=None),
        ),
        (
            "train_neox-1.4b_eager",
            lambda: lora_training("neox-1.4b", tok, device, dtype, size, autocast=True, attn="eager"),
        ),
        (
            "train_llama-1b_no-autocast",
            lambda: lora_training("llama-1b", tok, device, dtype, size, autocast=False, attn=None),
        ),
    ]
    for name, fn in plan:
        if name.startswith(skip):
            continue
        section(results, name, fn, args.out)
    holder.clear()
    text = markdown(results)
    (args.out / "gpu-bench.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
