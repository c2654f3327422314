"""Candidate evaluation split over the ranks of a ``torchrun`` job, gathered on every rank.

Each call's genotypes are sorted and cut into one contiguous chunk per rank (so every rank still
shares prefixes within its chunk); each rank evaluates its chunk and the evaluations are
gathered on every rank. An evaluation depends only on the genotype, the weights and D_val, never
on which other genotypes share the call, so the search sees exactly the numbers one process
computes and takes exactly the same decisions (``tests/test_distributed.py`` compares the
search.json files). Only rank 0 writes files.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.distributed as dist

from autosnn.core.spaces import Genotype
from autosnn.search.evolution import Evaluator
from autosnn.search.fitness import Evaluation
from autosnn.train.distributed import DistInfo


def chunks(items: list[Genotype], world: int) -> list[list[Genotype]]:
    """``items`` cut into ``world`` contiguous, near-equal chunks (earlier chunks one longer)."""
    size, extra = divmod(len(items), world)
    out, start = [], 0
    for r in range(world):
        end = start + size + (1 if r < extra else 0)
        out.append(items[start:end])
        start = end
    return out


class RankSplitEvaluator:
    """Wraps an evaluator so that a multi-process run shares the work; one process: unchanged."""

    def __init__(self, inner: Evaluator, info: DistInfo) -> None:
        self.inner = inner
        self.info = info

    def __call__(self, genotypes: Sequence[Genotype]) -> list[Evaluation]:
        if not self.info.enabled:
            return self.inner(genotypes)
        order = sorted({tuple(g) for g in genotypes})
        mine = chunks(order, self.info.world)[self.info.rank]
        local = self.inner(mine) if mine else []
        gathered: list[list[Evaluation] | None] = [None] * self.info.world
        dist.all_gather_object(gathered, local)
        results = {e.genotype: e for part in gathered for e in (part or [])}
        return [results[tuple(g)] for g in genotypes]
