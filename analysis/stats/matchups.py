"""Matchup designs for K-system sessions. The rules live in qasynth_lib.matchups so that annotation (which
creates and leases the slots, and may not import analysis) uses the very same functions; re-exported here."""

from __future__ import annotations

from qasynth_lib.matchups import balanced_schedule, next_pair, pair_order, pair_systems, ranked_pairs

__all__ = ["balanced_schedule", "next_pair", "pair_order", "pair_systems", "ranked_pairs"]
