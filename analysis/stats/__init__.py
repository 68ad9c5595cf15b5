"""Statistics for a judging session, computed with NumPy on integer-coded arrays (no Django here).

The Django layer builds the arrays (see ``coding.pivot_judgments``) and calls
``summary.compute_session_statistics``; everything below that is plain NumPy/SciPy so it can be tested
against the reference libraries and benchmarked on a million judgments.
"""

from __future__ import annotations

from analysis.stats.coding import LABELS, MISSING, PREFERENCES, pivot_judgments
from analysis.stats.summary import compute_session_statistics

__all__ = ["LABELS", "MISSING", "PREFERENCES", "compute_session_statistics", "pivot_judgments"]
