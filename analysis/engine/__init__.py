"""LLM judge engine (no Django): judging prompts, running a model on both orders of every pair, parsing
verdicts, majority of votes and order consistency.

Why in ``analysis``: the engine drives a generator (the abstract interface of ``generation.engine.base``),
and ``annotation`` must not import ``generation`` (imports point down: core <- generation <- training,
core <- annotation); ``analysis`` stands on both and runs LLM judges from a job. Like every engine it imports
no Django. Its statistics live in the NumPy statistics engine (``analysis/stats/llm_agreement.py``), which
takes the verdicts as integer arrays like every other figure.

Vocabulary: a *pair* is one item (question, passage, gold answers) with system A's and system B's
answers; an *order* is how the pair is shown (``"ab"``: A's answer first, ``"ba"``: B's first); a *vote* is
one model output for one order; an *assignment* is one (pair, order), judged by ``votes`` outputs.
"""
