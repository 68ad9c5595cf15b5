"""Django-free local-model inference shared by QA generation, evaluation predictions and the judging demo.

`device` picks the device and compute dtype (training uses the same rules), `loading` loads a model and
its tokenizer in one place, `engine` runs batched decoding (greedy or sampled, stop strings, repetition
penalty, shared-prefix prefill on CPU, static KV cache + torch.compile on CUDA). Callers build prompts and
post-process text; nothing here knows about Django, jobs or prompt formats, so a bench can import it on a
machine without the web stack (`bench/gpu.py`).
"""
