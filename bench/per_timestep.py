"""The straightforward per-timestep implementation, kept as the yardstick for speed and numerics.

Reference SNN code (spikingjelly's single-step mode, the AutoSNN authors' code) calls every layer
once per timestep and keeps neuron state in the modules. :func:`per_timestep_copy` turns any
:class:`~autosnn.core.network.SpikingNet` into that form with the same weights, using spikingjelly's own
``ParametricLIFNode`` in single-step mode, so our fused/folded path can be checked against it
(``tests/test_reference.py``) and timed against it (``bench/forward.py``).
"""

from __future__ import annotations

import copy

import torch
from spikingjelly.activation_based import functional, neuron, surrogate
from torch import Tensor

from autosnn.core.network import SpikingNet
from autosnn.core.neuron import PLIF, SpikingLayer


class StepPLIF(SpikingLayer):
    """spikingjelly's single-step PLIF holding state across calls (reset with :func:`reset`)."""

    def __init__(self, plif: PLIF) -> None:
        super().__init__()
        self.node = neuron.ParametricLIFNode(
            init_tau=2.0, detach_reset=True, surrogate_function=surrogate.ATan(), step_mode="s"
        )
        self.node.w = plif.w  # share the parameter: same weights, same gradients

    def forward(self, x: Tensor) -> Tensor:
        out = self.node(x.float())
        self._account(out)
        return out


def per_timestep_copy(model: SpikingNet) -> SpikingNet:
    """A deep copy of ``model`` whose PLIFs are stateful single-step neurons sharing no tensors
    with ``model`` except through the copied weights."""
    ref = copy.deepcopy(model)
    for module in list(ref.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, PLIF):
                setattr(module, child_name, StepPLIF(child))
    return ref


def forward_per_timestep(ref: SpikingNet, x: Tensor) -> Tensor:
    """Run ``ref`` (from :func:`per_timestep_copy`) one timestep at a time; returns firing rates.

    Every layer, the stem convolution included, is called once per timestep on ``(N, ...)``.
    """
    T = ref.timesteps_of(x)
    functional.reset_net(ref)
    rates = []
    for t in range(T):
        xt = x if x.dim() == 4 else x[t]  # a static image is presented at every step
        h = ref.run_segment(ref.body, ref.run_stem(xt, 1), 1)
        rates.append(ref.run_head(h, 1))
    functional.reset_net(ref)
    return torch.stack(rates).mean(0)
