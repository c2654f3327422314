"""Evaluating many architectures of a super-network at once by sharing their common prefixes.

All candidates see the same stem output, and candidates with the same first ``k`` blocks share
the activations after those blocks. Architectures are visited in lexicographic genotype order,
batch by batch; a stack holds the activation (and the spike counts so far) after the stem and
after each slot of the current path, so moving to the next genotype recomputes only the slots
after the common prefix. Only one path per depth is alive, so the cache is ``slots + 1``
activations of one batch (no packing needed; the activations are spikes, exact in any float
format).

With BN in eval mode every layer sees exactly the tensor it would in a full forward, so
accuracies and spike counts are identical to :class:`~autosnn.search.evaluate.NaiveEvaluator`
(``tests/test_nas_shared_eval.py``, ``bench/search_eval.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from autosnn.core.layers import Cell
from autosnn.core.network import SpikingNet
from autosnn.core.neuron import SpikingLayer
from autosnn.core.runtime import precision_context
from autosnn.core.spaces import Genotype
from autosnn.search.evaluate import layer_counts
from autosnn.search.fitness import Evaluation


def _spiking(modules: Sequence[nn.Module]) -> list[SpikingLayer]:
    return [m for mod in modules for m in mod.modules()
            if isinstance(m, SpikingLayer) and m.counts_spikes]


class SharedPrefixEvaluator:
    """``genotypes -> [Evaluation]`` over fixed batches, sharing stem and prefix activations.

    ``stats`` counts segment forwards done (``computed``) and what a naive loop would do
    (``naive``) for the last call.
    """

    def __init__(self, net: SpikingNet, batches: list[tuple[Tensor, Tensor]],
                 precision: str = "fp32") -> None:
        if net.config.kind != "supernet" and not net.cells:
            raise ValueError("shared-prefix evaluation needs a network with slots")
        self.net = net.eval()
        self.batches = batches
        self.precision = precision
        body = list(net.body)
        cell_pos = [i for i, m in enumerate(body) if isinstance(m, Cell)]
        self.cells: list[Cell] = [body[i] for i in cell_pos]
        self.pre = body[: cell_pos[0]]  # non-slot layers before the first slot
        self.segments: list[list[nn.Module]] = [  # layers after slot i up to the next slot
            body[p + 1 : (cell_pos[j + 1] if j + 1 < len(cell_pos) else len(body))]
            for j, p in enumerate(cell_pos)
        ]
        self._stem_layers = _spiking([net.stem, *self.pre])
        self._seg_layers = [_spiking(seg) for seg in self.segments]
        self._op_layers = [{k: _spiking([op]) for k, op in cell.ops.items()} for cell in self.cells]
        self._head_layers = _spiking([net.head])
        self.stats = {"computed": 0, "naive": 0}

    def __call__(self, genotypes: Sequence[Genotype]) -> list[Evaluation]:
        order = sorted({tuple(g) for g in genotypes})
        n_slots = len(self.cells)
        for g in order:
            if len(g) != n_slots:
                raise ValueError(f"genotype {g} has {len(g)} slots; the network has {n_slots}")
        correct = dict.fromkeys(order, 0)
        spikes = dict.fromkeys(order, 0)
        seen = 0
        device = next(self.net.parameters()).device
        computed = 0
        saved_active = [c.active for c in self.cells]
        try:
            with torch.inference_mode(), precision_context(self.precision, device):
                for x, y in self.batches:
                    n = y.shape[0]
                    T = self.net.timesteps_of(x)
                    h = self.net.run_segment(self.pre, self.net.run_stem(x, T), T)
                    stack: list[tuple[Tensor, int]] = [(h, sum(layer_counts(self._stem_layers, n)))]
                    path: tuple[str, ...] = ()
                    for g in order:
                        k = 0
                        while k < len(path) and k < n_slots - 1 and path[k] == g[k]:
                            k += 1
                        del stack[k + 1 :]
                        for i in range(k, n_slots):
                            cell = self.cells[i]
                            cell.active = g[i]
                            h, count = stack[-1]
                            h = self.net.run_segment([cell, *self.segments[i]], h, T)
                            count += sum(layer_counts(self._op_layers[i][g[i]], n))
                            count += sum(layer_counts(self._seg_layers[i], n))
                            stack.append((h, count))
                            computed += 1
                        path = g
                        rates = self.net.run_head(stack[-1][0], T)
                        spikes[g] += stack[-1][1] + sum(layer_counts(self._head_layers, n))
                        correct[g] += int((rates.argmax(1) == y).sum())
                    seen += n
        finally:
            for c, a in zip(self.cells, saved_active, strict=False):
                c.active = a
        self.stats = {"computed": computed, "naive": len(order) * n_slots * len(self.batches)}
        seen = max(seen, 1)
        results = {g: Evaluation(g, correct[g] / seen, spikes[g] / seen) for g in order}
        return [results[tuple(g)] for g in genotypes]
