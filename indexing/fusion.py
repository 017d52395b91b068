"""Reciprocal rank fusion (pure): many ranked lists of ids in, one deterministic ranking out.

score(id) = sum over retrievers r that found id of weight[r] / (k + rank_r(id)), rank from 1.

Determinism: retrievers are visited in sorted name order and ties are broken by the id, so the result does
not depend on the order in which retrievers answered (or on dict order). Each fused entry records the rank
it had in every retriever that found it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Hashable, Mapping, Sequence

DEFAULT_RRF_K = 60


@dataclass(frozen=True)
class Fused:
    """One fused result: the id, its RRF score and {retriever: 1-based rank}."""

    id: Hashable
    score: float
    ranks: dict[str, int] = field(default_factory=dict)


def reciprocal_rank_fusion(rankings: Mapping[str, Sequence[Hashable]], k: int = DEFAULT_RRF_K,
                           weights: Mapping[str, float] | None = None, limit: int | None = None) -> list[Fused]:
    """Fuse ranked id lists with weighted RRF.

    Args:
        rankings: {retriever name: ids best first}. A repeated id counts at its best rank only.
        k: The RRF constant (60 in the original paper); larger flattens the rank differences.
        weights: {retriever name: weight}; a missing name weighs 1.0, a weight of 0 drops the retriever.
        limit: Keep at most this many results.

    Returns:
        Fused results, best first; ties broken by id (ascending) so the output is reproducible.
    """
    if k < 0:
        raise ValueError(f"RRF k must be >= 0, got {k}")
    weights = weights or {}
    scores: dict[Hashable, float] = {}
    ranks: dict[Hashable, dict[str, int]] = {}
    for name in sorted(rankings):
        weight = float(weights.get(name, 1.0))
        if weight == 0:
            continue
        for rank, item in enumerate(rankings[name], start=1):
            found = ranks.setdefault(item, {})
            if name in found:
                continue
            found[name] = rank
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    ordered = sorted(scores, key=lambda item: (-round(scores[item], 12), _sort_key(item)))
    if limit is not None:
        ordered = ordered[:limit]
    return [Fused(item, scores[item], dict(sorted(ranks[item].items()))) for item in ordered]


def _sort_key(item: Hashable) -> tuple:
    return (0, item, "") if isinstance(item, (int, float)) else (1, 0, str(item))
