"""Uncertainty of accuracies measured on a finite set of images.

- :func:`wilson`: the 95 % Wilson score interval of one accuracy (k correct of n). Unlike the
  normal approximation it stays inside [0, 1] and keeps its coverage near 0 % and 100 %.
- :func:`paired_difference`: the interval of the difference between two networks' accuracies
  measured on the *same* images (Newcombe 1998, method 10: Wilson intervals of both accuracies
  combined with the correlation of the two networks' per-image outcomes). Two networks that
  agree on most images have a much narrower interval for their difference than two independent
  Wilson intervals suggest; only the images on which they disagree carry information.

Both are closed forms (deterministic, no resampling): a resumed search writes the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# two-sided 95 %: the normal quantile 0.975
Z95 = 1.959963984540054
LEVEL = 0.95


def wilson(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of an accuracy ``correct / n`` (n >= 1)."""
    if n < 1 or not 0 <= correct <= n:
        raise ValueError(f"wilson: expected 0 <= correct <= n and n >= 1, got {correct}/{n}")
    p = correct / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class PairedDifference:
    """Accuracy of A minus accuracy of B on the same ``n`` images, with its interval;
    ``a_only`` / ``b_only``: images only A / only B classifies correctly (the discordant pairs)."""

    diff: float
    low: float
    high: float
    n: int
    a_only: int
    b_only: int

    @property
    def significant(self) -> bool:
        """The interval excludes 0: A and B differ at the interval's level."""
        return self.high < 0 or self.low > 0


def paired_difference(a: np.ndarray, b: np.ndarray, z: float = Z95) -> PairedDifference:
    """``acc(a) - acc(b)`` of two per-image correctness vectors (same images, same order) with
    Newcombe's hybrid score interval for paired proportions (method 10)."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"paired_difference: expected two equal, non-empty 1-D vectors, got "
                         f"{a.shape} and {b.shape}")
    n = int(a.size)
    both = int(np.sum(a & b))
    a_only = int(np.sum(a & ~b))
    b_only = int(np.sum(~a & b))
    neither = n - both - a_only - b_only
    p1, p2 = (both + a_only) / n, (both + b_only) / n
    l1, u1 = wilson(both + a_only, n, z)
    l2, u2 = wilson(both + b_only, n, z)
    denom = (both + a_only) * (neither + b_only) * (both + b_only) * (neither + a_only)
    phi = (both * neither - a_only * b_only) / math.sqrt(denom) if denom > 0 else 0.0
    d = p1 - p2
    low = d - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    high = d + math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return PairedDifference(d, max(-1.0, low), min(1.0, high), n, a_only, b_only)
