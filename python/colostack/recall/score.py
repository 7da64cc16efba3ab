"""Recall@k arithmetic, apart from the database so it is tested on its own."""

from __future__ import annotations

from collections.abc import Sequence


def recall_at_k(approx: Sequence[str], exact: Sequence[str], k: int) -> float:
    """Share of the exact top-k that the approximate top-k found (1.0 when nothing is exact)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    truth = set(exact[:k])
    if not truth:
        return 1.0
    return len(truth & set(approx[:k])) / len(truth)


def mean(values: Sequence[float]) -> float | None:
    """Mean recall over the sampled queries; None when there were none."""
    return sum(values) / len(values) if values else None
