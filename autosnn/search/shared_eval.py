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

import numpy as np
import torch
from torch import Tensor, nn

from autosnn.core.layers import Cell
from autosnn.core.network import SpikingNet, input_events
from autosnn.core.neuron import SpikingLayer, per_step_spikes
from autosnn.core.runtime import precision_context
from autosnn.core.spaces import Genotype
from autosnn.search.fitness import Evaluation


def _spiking(modules: Sequence[nn.Module]) -> list[SpikingLayer]:
    return [m for mod in modules for m in mod.modules()
            if isinstance(m, SpikingLayer) and m.counts_spikes]


def _step_counts(layers: Sequence[SpikingLayer], n: int) -> list[np.ndarray]:
    """Integer spikes per timestep of each layer's last forward over a batch of ``n`` (their sum
    is the layer's integer count, :func:`~autosnn.search.evaluate.layer_counts`: spike sums
    are exact integers in float32)."""
    if not layers:
        return []
    steps = [m.spikes_per_step for m in layers if m.spikes_per_step is not None]
    if len(steps) != len(layers):  # the TypeError torch.stack raised on a None
        raise TypeError("a layer has no per-step spike counts (run under per_step_spikes())")
    per_sample = torch.stack(steps).double().cpu().numpy()
    return list(np.rint(per_sample * n))


def _total(step_counts: list[np.ndarray]) -> int:
    """All spikes of some layers over the batch, from their per-step counts."""
    return int(sum(c.sum() for c in step_counts))


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
        self.cells: list[Cell] = [m for m in body if isinstance(m, Cell)]  # the Cells at cell_pos
        self.pre = body[: cell_pos[0]]  # non-slot layers before the first slot
        self.segments: list[list[nn.Module]] = [  # layers after slot i up to the next slot
            body[p + 1 : (cell_pos[j + 1] if j + 1 < len(cell_pos) else len(body))]
            for j, p in enumerate(cell_pos)
        ]
        self._stem_layers = _spiking([net.stem, *self.pre])
        self._seg_layers = [_spiking(seg) for seg in self.segments]
        self._op_layers = [{k: _spiking([op]) for k, op in cell.ops.items()} for cell in self.cells]
        self._head_layers = _spiking([net.head])
        self._names = {m: name for name, m in net.named_modules()}
        self.stats = {"computed": 0, "naive": 0}

    def __call__(self, genotypes: Sequence[Genotype]) -> list[Evaluation]:
        return self._run(genotypes, None)

    def per_image(self, genotypes: Sequence[Genotype]
                  ) -> list[tuple[Evaluation, np.ndarray]]:
        """Each evaluation with its per-image correctness (bool, batch order): what paired
        comparisons of two candidates on the same images need."""
        hits: dict[Genotype, list[np.ndarray]] = {}
        evaluations = self._run(genotypes, hits)
        return [(e, np.concatenate(hits[e.genotype])) for e in evaluations]

    def _run(self, genotypes: Sequence[Genotype],
             hits: dict[Genotype, list[np.ndarray]] | None) -> list[Evaluation]:
        """Evaluate ``genotypes``; with ``hits``, also append each one's per-image correctness
        of every batch to ``hits[genotype]``."""
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
        names = self._names
        # per genotype: layer name -> spikes per timestep summed over samples (float64, (T,))
        activity: dict[Genotype, dict[str, np.ndarray]] = {g: {} for g in order}
        inputs: np.ndarray | None = None
        try:
            with (torch.inference_mode(), precision_context(self.precision, device),
                  per_step_spikes()):
                for x, y in self.batches:
                    n = y.shape[0]
                    T = self.net.timesteps_of(x)
                    h = self.net.run_segment(self.pre, self.net.run_stem(x, T), T)
                    batch_in = input_events(x, T).flatten(1).sum(1).double().cpu().numpy()
                    inputs = batch_in if inputs is None else inputs + batch_in
                    stem_steps = _step_counts(self._stem_layers, n)
                    stack: list[tuple[Tensor, int, list]] = [
                        (h, _total(stem_steps), [(self._stem_layers, stem_steps)])]
                    path: tuple[str, ...] = ()
                    for g in order:
                        k = 0
                        while k < len(path) and k < n_slots - 1 and path[k] == g[k]:
                            k += 1
                        del stack[k + 1 :]
                        for i in range(k, n_slots):
                            cell = self.cells[i]
                            cell.active = g[i]
                            h, count, steps = stack[-1]
                            h = self.net.run_segment([cell, *self.segments[i]], h, T)
                            ops, seg = self._op_layers[i][g[i]], self._seg_layers[i]
                            op_steps, seg_steps = _step_counts(ops, n), _step_counts(seg, n)
                            count += _total(op_steps) + _total(seg_steps)
                            steps = [*steps, (ops, op_steps), (seg, seg_steps)]
                            stack.append((h, count, steps))
                            computed += 1
                        path = g
                        rates = self.net.run_head(stack[-1][0], T)
                        head_steps = _step_counts(self._head_layers, n)
                        spikes[g] += stack[-1][1] + _total(head_steps)
                        acts = activity[g]
                        for layers, counts in [*stack[-1][2], (self._head_layers, head_steps)]:
                            for m, c in zip(layers, counts, strict=True):
                                key = names[m]
                                acts[key] = c if key not in acts else acts[key] + c
                        right = rates.argmax(1) == y
                        correct[g] += int(right.sum())
                        if hits is not None:
                            hits.setdefault(g, []).append(right.cpu().numpy())
                    seen += n
        finally:
            for c, a in zip(self.cells, saved_active, strict=False):
                c.active = a
        self.stats = {"computed": computed, "naive": len(order) * n_slots * len(self.batches)}
        seen = max(seen, 1)
        results = {}
        for g in order:
            per_layer = {k: tuple(float(v) / seen for v in c) for k, c in activity[g].items()}
            if inputs is not None:
                per_layer["input"] = tuple(float(v) / seen for v in inputs)
            results[g] = Evaluation(g, correct[g] / seen, spikes[g] / seen, per_layer)
        return [results[tuple(g)] for g in genotypes]
