"""LLM judge engine (no Django): judging prompts, running a model on both orders of every pair, parsing
verdicts, majority of votes and order consistency.

Why a top-level package and not a module of an app: the engine drives a generator (the abstract interface
of ``generation.engine.base``), and ``annotation`` must not import ``generation`` (imports point down:
core <- generation <- training, core <- annotation). The future ``analysis`` app, which sits on top of
both, will call it from a job; keeping the engine outside any app means it moves with neither and imports
nothing from Django, ``annotation`` or ``training``. Its statistics live in the NumPy statistics engine
(``annotation/stats/llm_agreement.py``), which takes the verdicts as integer arrays like every other figure.

Vocabulary: a *pair* is one item (question, passage, gold answers) with system A's and system B's
answers; an *order* is how the pair is shown (``"ab"``: A's answer first, ``"ba"``: B's first); a *vote* is
one model output for one order; an *assignment* is one (pair, order), judged by ``votes`` outputs.
"""
