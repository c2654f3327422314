"""Evaluation of one network on a split: accuracy, spikes per image, per-layer spikes and firing
rates, optional per-neuron activity. Eval mode, no augmentation, no gradients.

Spike counts are accumulated per layer and batch as integers (``round(spikes_per_sample * n)``),
the same arithmetic the shared-prefix evaluator uses, so both give identical numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from autosnn.core.config import EVAL_BATCH_SIZE
from autosnn.core.network import SpikingNet
from autosnn.core.neuron import SpikingLayer
from autosnn.core.runtime import precision_context
from autosnn.core.spaces import Genotype
from autosnn.data import TensorSplit, batches
from autosnn.search.fitness import Evaluation


@dataclass(frozen=True)
class EvalResult:
    """Accuracy (fraction), mean spikes per image, and per spiking layer (forward order) the
    spikes per image, neurons per timestep and firing rate (spikes / (neurons * T))."""

    accuracy: float
    spikes: float
    samples: int
    timesteps: int
    per_layer: dict[str, float] = field(default_factory=dict)
    neurons: dict[str, int] = field(default_factory=dict)
    firing_rate: dict[str, float] = field(default_factory=dict)


def layer_counts(layers: Sequence[SpikingLayer], n: int) -> list[int]:
    """Integer spike counts of the last forward of ``layers`` over a batch of ``n`` samples."""
    if not layers:
        return []
    spikes = [m.spikes for m in layers if m.spikes is not None]
    if len(spikes) != len(layers):  # the TypeError torch.stack raised on a None
        raise TypeError("a layer has no spike count (no forward pass yet)")
    per_sample = torch.stack(spikes).double().cpu().tolist()
    return [int(round(v * n)) for v in per_sample]


def eval_batches(split: TensorSplit, batch_size: int, device: torch.device | str
                 ) -> list[tuple[Tensor, Tensor]]:
    """D_val (or any split) as a list of normalised, un-augmented batches (kept in memory)."""
    return list(batches(split, batch_size, shuffle=False, device=device, augment=None))


def evaluate(
    net: SpikingNet,
    data: TensorSplit | Iterable[tuple[Tensor, Tensor]],
    *,
    batch_size: int = EVAL_BATCH_SIZE,
    precision: str = "fp32",
    activity: bool = False,
) -> EvalResult:
    """Evaluate ``net`` on its active path over ``data`` (a split or prepared batches)."""
    device = next(net.parameters()).device
    net.eval()
    if activity:
        net.record_activity(True)
    named = net.active_spiking_layers()
    layers = [m for _, m in named]
    neurons: dict[str, int] = {}
    hooks = [
        m.register_forward_hook(
            lambda mod, inp, out, name=name: neurons.__setitem__(
                name, int(out[0].numel()) if out.dim() > 0 else 1)
        )
        for name, m in named
    ]
    counts = [0] * len(layers)
    correct = seen = 0
    T = net.timesteps
    it = data if not isinstance(data, TensorSplit) else batches(
        data, batch_size, shuffle=False, device=device, augment=None)
    try:
        with torch.inference_mode():
            for x, y in it:
                with precision_context(precision, device):
                    rates = net(x)
                T = x.shape[0] if x.dim() == 5 else net.timesteps
                n = y.shape[0]
                for i, c in enumerate(layer_counts(layers, n)):
                    counts[i] += c
                correct += int((rates.argmax(1) == y).sum())
                seen += n
    finally:
        for h in hooks:
            h.remove()
    seen_ = max(seen, 1)
    per_layer = {name: c / seen_ for (name, _), c in zip(named, counts, strict=False)}
    rates_ = {name: per_layer[name] / (neurons.get(name, 1) * T) for name, _ in named}
    return EvalResult(
        accuracy=correct / seen_, spikes=sum(counts) / seen_, samples=seen, timesteps=T,
        per_layer=per_layer, neurons=neurons, firing_rate=rates_,
    )


class NaiveEvaluator:
    """Evaluates each architecture on its own: full forward of the super-network path per batch.

    The reference the shared-prefix evaluator is checked (and benchmarked) against.
    """

    def __init__(self, net: SpikingNet, batches_: list[tuple[Tensor, Tensor]],
                 precision: str = "fp32") -> None:
        self.net, self.batches, self.precision = net, batches_, precision

    def __call__(self, genotypes: Sequence[Genotype]) -> list[Evaluation]:
        out = []
        for g in genotypes:
            self.net.set_genotype(tuple(g))
            r = evaluate(self.net, self.batches, precision=self.precision)
            out.append(Evaluation(tuple(g), r.accuracy, r.spikes))
        return out
