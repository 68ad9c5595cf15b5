"""Regex pieces for telling a Japanese question word that asks from one that does not, shared by the question
rule (generation.validation) and the answer-type check (generation.answer_types). No Django here."""

from __future__ import annotations

import re

INDEFINITE_TAIL = r"か(?!ら)(?![\s。．.？?」』)）、]*$)|(?:に|へ|と|から|まで)?(?:も|でも)"
"""What follows a question word used as an indefinite: か that does not end the question ("いくつかの国",
"何かを"; not "何から"), or も / でも, also after に, へ, と, から, まで ("何年も", "どこにも", "誰とでも")."""

CLAUSE_BREAK = re.compile(r"[、，,。]")
"""Where a clause ends: both rules read a question word within its own clause."""

EMBEDDED = re.compile(r"か(?=[がをはもでのと、]|どうか|[\u4e00-\u9fff])|[てで]も")
"""Searched after a question word in its clause: an embedded question ("なぜ貧しいのかという疑問", "どの工程で
確認するかをまとめた表", "何拍子か決まる") or a concession ("どの通貨でも", "いくら行っても"); either way the word
asks nothing of the reader."""
