"""The network Speck runs: sinabs's discretisation of a ``speck``-space network, in torch, with
straight-through gradients (for quantisation-aware training, ``autosnn train --quantize speck``).

``autosnn export --to speck`` hands sinabs 3.1.3 the network with BN folded into each conv, and
``DynapcnnNetwork(..., discretize=True)`` discretises every layer with *one* scale shared by the
8-bit weights, the 8-bit bias and the 16-bit thresholds
(``sinabs/backend/dynapcnn/discretize.py``, ``_discretize_conv_spk_``)::

    s = min(scale(W, 8 bit), scale(b, 8 bit), scale((min_v_mem, threshold), 16 bit))
    W_int = round(W s), b_int = round(b s), (min_v_int, thr_int) = round((min_v_mem, 1) s)

where ``scale(t, bits)`` maps ``t``'s largest magnitude onto ``2^(bits-1) - 1`` (or ``-2^(bits-1)``
for a dominant negative end: :func:`discretisation_scale`, a copy of sinabs's
``determine_discretization_scale``), and the exporter sets ``min_v_mem = -(2^15 - 1) / min(scale(W),
scale(b))`` so that the thresholds never set ``s``. The discretised IAF then runs in float32:
``v = v + conv(x, W_int) + b_int``; spike ``v - thr_int >= 0``; reset to 0 (``v * (spike == 0)``)
or by subtraction (``v - spike thr_int``); floor ``relu(v - min_v_int) + min_v_int``.

:class:`SpeckDiscretised` computes exactly that, op for op in the same float32 arithmetic (every
value after the stem is an integer below 2^24, so exact; the stem convolves real pixels with
integer weights as sinabs does), from the float network's parameters: the result equals sinabs's
discretised network spike for spike (``tests/test_quantize_speck.py``), and the gradients reach
the float parameters:

- every rounding is straight-through (:func:`autosnn.core.fixed_point.straight_through`); the scale
  is chosen on detached values, like a max-calibrated fake quantiser;
- the spike's gradient is the IF neuron's ATan surrogate on the membrane in float units,
  ``(v - thr_int) / s``, the reset detached, the floor's ``relu`` as autograd has it;
- BN is folded with its running statistics (:meth:`SpeckDiscretised.fold`; the training subclass in
  :mod:`autosnn.train.quantize_speck` first updates them from the batch, as BatchNorm would).

It lives in the core because both training (the QAT forward) and the exporter (``--verify``
compares sinabs's discretised network with it) need it, and neither may import the other.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from autosnn.core.blocks import ConvBN, safe_conv2d
from autosnn.core.errors import AutosnnError
from autosnn.core.fixed_point import straight_through
from autosnn.core.layers import Cell, Head, Stem
from autosnn.core.lowering import fold_bn
from autosnn.core.network import SpikingNet
from autosnn.core.neuron import SpikingLayer, timesteps
from autosnn.core.speck import IF, SpeckSCB, SpeckSkip, SpeckSRB, SumPool, _Heaviside

WEIGHT_BITS = 8  # sinabs DYNAPCNN_WEIGHT_PRECISION_BITS (weights and biases)
STATE_BITS = 16  # sinabs DYNAPCNN_STATE_PRECISION_BITS (thresholds, membrane)
STATE_FLOOR = -(2 ** (STATE_BITS - 1) - 1)  # where the exporter puts min_v_mem, in chip units


class SpeckQuantError(AutosnnError):
    """A network that is not a ``speck``-space network (Speck's discretisation does not apply)."""


def discretisation_scale(t: Tensor, bits: int) -> Tensor:
    """sinabs's ``determine_discretization_scale``, the same tensor ops (float32, 0-dim): the factor
    that maps ``t``'s dominant end onto the ``bits``-bit range (``inf`` for an all-zero ``t``)."""
    lo_d, hi_d = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    lo, hi = torch.min(t), torch.max(t)
    if abs(lo) <= abs(hi) * abs(lo_d / hi_d):
        return abs(hi_d / hi)
    return abs(lo_d / lo)


def layer_scale(w: Tensor, b: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
    """(scale, thr_int, min_v_int) of one Speck layer with (BN-folded) weight ``w`` and bias ``b``
    (None: the head's bias-free Linear), as the exporter and sinabs compute them together."""
    w = w.detach().float()
    bias = torch.zeros(w.shape[0]) if b is None else b.detach().float()
    s_w = discretisation_scale(w, WEIGHT_BITS)
    s_b = discretisation_scale(bias, WEIGHT_BITS)
    # exporters.speck_export._min_v_mem: the float floor that lands on STATE_FLOOR
    floor = STATE_FLOOR / min(float(s_w), float(s_b) if bias.abs().max() > 0 else math.inf)
    thresholds = torch.tensor((torch.as_tensor(floor), torch.as_tensor(1.0)))
    s = min(s_w, s_b, discretisation_scale(thresholds, STATE_BITS))
    min_v, thr = torch.round(thresholds * s)
    return s, thr, min_v


def integrate_and_fire(cur: Tensor, T: int, s: Tensor, thr: Tensor, min_v: Tensor,
                       reset: str) -> Tensor:
    """sinabs's discretised IAF (``SingleSpike``, float32) on the integer-unit current ``cur``
    (time-folded ``(T*N, ...)``); the spike's gradient is the ATan surrogate on ``(v - thr) / s``
    (the membrane in float units, threshold ~1), the reset detached."""
    x = cur.reshape(T, -1, *cur.shape[1:])
    v = torch.zeros_like(x[0])
    out = []
    for t in range(T):
        v = v + x[t]
        spk = _Heaviside.apply((v - thr) / s)  # (v - thr)/s >= 0 exactly when v - thr >= 0
        out.append(spk)
        sd = spk.detach()
        v = v * (sd == 0).float() + 0.0 if reset == "zero" else v - sd * thr
        v = F.relu(v - min_v) + min_v
    return torch.stack(out).reshape(cur.shape)


class SpeckDiscretised(nn.Module):
    """``net`` (a ``speck``-space network) as sinabs discretises it for Speck (module docstring).

    Holds ``net`` (its parameters are the ones trained); input and output as ``net``'s:
    ``(N, C, H, W)`` or ``(T, N, C, H, W)`` -> firing rates ``(N, classes)``. ``keep_spikes``
    keeps every spiking layer's spikes of the last forward in ``spikes`` (time-folded)."""

    def __init__(self, net: SpikingNet) -> None:
        super().__init__()
        cfg = getattr(net, "config", None)
        if cfg is None or getattr(cfg, "name", None) != "speck":
            raise SpeckQuantError(f"Speck quantisation needs a network of the speck space, got "
                                  f"{getattr(cfg, 'name', type(net).__name__)!r} (build it with "
                                  "--space speck)")
        if not isinstance(net.stem, Stem) or net.stem.crop or len(net.stem.extra) \
                or not isinstance(net.head, Head) or len(net.head.fcs) != 1:
            raise SpeckQuantError("Speck quantisation: expected the speck space's stem "
                                  "(conv3x3 + IF) and head (one Linear + IF)")
        for name, m in net.active_modules():
            if isinstance(m, SpikingLayer) and not isinstance(m, IF):
                raise SpeckQuantError(f"layer {name!r}: {type(m).__name__} is not Speck's IF "
                                      "neuron (Speck has no leak; --neuron relu has no spikes)")
        self.net = net
        self.keep_spikes = False
        self.spikes: dict[str, Tensor] = {}

    # -- one layer ------------------------------------------------------------------------------

    def fold(self, cbn: ConvBN, x: Tensor) -> tuple[Tensor, Tensor]:
        """The conv's weight and bias with BN folded (running statistics, differentiable);
        ``x`` is the conv's input (the training subclass updates the statistics from it)."""
        return fold_bn(cbn.conv.weight, cbn.bn, cbn.conv.bias, differentiable=True)

    def _layer(self, name: str, w: Tensor, b: Tensor | None, lif: nn.Module, x: Tensor,
               T: int, conv: nn.Conv2d | None, expand: bool = False) -> Tensor:
        """Discretise (w, b) with the layer's scale, run the synapse on ``x`` and the IAF."""
        assert isinstance(lif, IF)
        s, thr, min_v = layer_scale(w, b)
        wq = straight_through(w * s, torch.round(w.detach() * s))
        bq = None if b is None else straight_through(b * s, torch.round(b.detach() * s))
        if conv is None:
            cur = F.linear(x.flatten(1), wq)
        else:
            cur = safe_conv2d(x, wq, bq, conv.stride, conv.padding)
        if expand:  # static input: the same current every step, time-folded (T*N, ...)
            cur = cur.unsqueeze(0).expand(T, *cur.shape).flatten(0, 1)
        out = integrate_and_fire(cur, T, s, thr, min_v, lif.reset)
        lif._account(out)
        if self.keep_spikes:
            self.spikes[name] = out.detach()
        return out

    def _conv_layer(self, name: str, cbn: ConvBN, lif: nn.Module, x: Tensor, T: int) -> Tensor:
        w, b = self.fold(cbn, x)
        return self._layer(name, w, b, lif, x, T, cbn.conv)

    def _block(self, name: str, cell: Cell, x: Tensor, T: int) -> Tensor:
        block = cell.ops[cell.active]
        name = f"{name}.ops.{cell.active}"
        if isinstance(block, SpeckSkip):
            if block.reduce is None or block.lif is None:
                return x
            return self._conv_layer(f"{name}.lif", block.reduce, block.lif, x, T)
        if isinstance(block, SpeckSCB):
            h = self._conv_layer(f"{name}.lif1", block.conv1, block.lif1, x, T)
            return self._conv_layer(f"{name}.lif2", block.conv2, block.lif2, h, T)
        if isinstance(block, SpeckSRB):
            h = self._conv_layer(f"{name}.lif1", block.conv1, block.lif1, x, T)
            return self._conv_layer(f"{name}.lif2", block.conv2, block.lif2,
                                    x + h if block.merge else h, T)
        raise SpeckQuantError(f"layer {name!r}: {type(block).__name__} is not a Speck block")

    # -- the network ----------------------------------------------------------------------------

    def forward(self, x: Tensor) -> Tensor:
        net = self.net
        T = net.timesteps_of(x)
        if net.input_recorder is not None:
            net.input_recorder.add(x, T)
        self.spikes = {}
        with timesteps(T):
            stem = net.stem
            assert isinstance(stem, Stem)
            static = x.dim() == 4
            xs = x.float() if static else x.flatten(0, 1).float()
            w, b = self.fold(stem.conv, xs)
            h = self._layer("stem.lif", w, b, stem.lif, xs, T, stem.conv.conv, expand=static)
            for i, layer in enumerate(net.body):
                if isinstance(layer, Cell):
                    h = self._block(f"body.{i}", layer, h, T)
                elif isinstance(layer, SumPool):
                    h = layer(h)
                else:
                    raise SpeckQuantError(f"layer 'body.{i}': {type(layer).__name__} is not "
                                          "in the speck space")
            head = net.head
            assert isinstance(head, Head)
            fc = head.fcs[0]
            assert isinstance(fc, nn.Linear)
            out = self._layer("head.lifs.0", fc.weight, None, head.lifs[0], h, T, None)
        n = out.shape[0] // T
        votes = out.float().reshape(T, n, head.num_classes, 10).mean(dim=3)
        return votes.mean(dim=0)

