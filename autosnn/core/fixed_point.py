"""Loihi 2 fixed point of one neuron population: the ONE place the Lava exporter and
quantisation-aware training (``autosnn.train.quantize``) take their integer arithmetic from.

A population ``v' = v (1 - decay) + gain (sum_j W_j x_j + b)``, spike ``v' > th``, reset to 0
(PLIF: decay = gain = k; IF: decay 0, gain dt r; Threshold: memoryless) becomes, as Lava's
``LIFReset`` / netx CUBA neurons run it (``du = 4095``: the current holds this step's input only):

- ``dv = round(decay * 4096)``; the state decays as ``sign(v) floor(|v| (4096 - dv) / 4096)``;
- weights ``round(gain W s / 2) * 2`` (even, in [-256, 254]) with one scale ``s = vth / th`` per
  population (shared by all its synapses so that their sum is right), ``vth`` the largest integer
  (<= 4096) keeping every weight of the population in 8 bits: the threshold is exact and the
  weights use nearly the whole 8-bit range;
- bias ``gain b s 64`` as a 13-bit mantissa and an exponent (Lava shifts synaptic input and the
  threshold by 6 bits, so ``s`` cancels);
- spike where ``v > 64 vth``.

Everything is computed in float64 torch (bit-identical to the numpy the exporter used before:
IEEE operations in the same order), and every rounding is straight-through: the forward value is
the rounded one, the gradient that of the unrounded expression. So QAT trains on exactly the
integers the exporter writes, and the exporter calls the same function with plain arrays.

``LAVA_DT`` is the dt the Lava export writes into its NIR graph (``exporters.nir_export.DEFAULT_DT``,
checked by a test); the PLIF's gain goes through NIR as ``tau = dt / k`` and back as ``dt / tau``,
which :func:`plif_gain` reproduces bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

W_MIN, W_MAX = -256, 254
DECAY_UNITY = 4096
MAX_SCALE = 2**12
BIAS_MANT_MIN, BIAS_MANT_MAX = -4096, 4095
BIAS_EXP_MAX = 7
STATE_SHIFT = 64  # Lava's 6-bit shift of synaptic input and threshold
LAVA_DT = 1e-4


class _Replace(torch.autograd.Function):
    """Forward: ``value`` exactly; backward: the gradient of ``x`` (straight through)."""

    @staticmethod
    def forward(ctx, x: Tensor, value: Tensor) -> Tensor:  # noqa: ARG004
        return value.clone()

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # noqa: ARG004
        return grad, None


def straight_through(x: Tensor, value: Tensor) -> Tensor:
    """``value`` in the forward pass, ``x``'s gradient in the backward pass. ``x + (value -
    x).detach()`` is not used because its float result is not always ``value`` exactly."""
    value = value.to(x.device, x.dtype)
    if not x.requires_grad:
        return value
    return _Replace.apply(x, value)


def round_ste(x: Tensor) -> Tensor:
    """Round half to even (as numpy and torch do), gradient 1."""
    return straight_through(x, torch.round(x.detach()))


def plif_gain(k: float, dt: float = LAVA_DT) -> float:
    """The gain (= decay) the exporter reads back from NIR for a PLIF of ``k = sigmoid(w)``:
    written as ``tau = dt / k``, read as ``dt / tau`` (may differ from ``k`` in the last bit)."""
    return dt / (dt / k)


def decay_mant(decay: float) -> int:
    """Loihi's 12-bit voltage decay ``dv`` (4096 = full decay)."""
    return int(round(decay * DECAY_UNITY))


def fixed_decay(v: Tensor, dv: int) -> Tensor:
    """One step of Lava's integer voltage decay on an integer-valued float64 ``v`` (exact:
    ``|v| (4096 - dv)`` stays far below 2^53)."""
    return torch.sign(v) * torch.floor(torch.abs(v) * (DECAY_UNITY - dv) / DECAY_UNITY)


def choose_vth(peak: float, threshold: float) -> int:
    """Largest integer threshold mantissa (<= 4096) whose scale keeps ``peak`` (the largest
    ``|gain W|`` of the population) within 8 bits."""
    if peak == 0:
        return MAX_SCALE
    return max(1, min(MAX_SCALE, math.floor(threshold * W_MAX / peak)))


@dataclass
class FixedPoint:
    """One population's integer parameters. ``weights`` and ``bias_int`` are float64 tensors
    holding integers (differentiable straight through when their inputs are)."""

    weights: list[Tensor]
    bias_mant: Tensor
    bias_exp: int
    bias_int: Tensor  # bias_mant * 2**bias_exp: what is added to v each step
    scale: float
    dv: int
    vth: int


def quantise_population(weights: Sequence[Tensor], biases: Sequence[Tensor | None],
                        gain: float | Tensor, threshold: float, decay: float,
                        channels: int) -> FixedPoint:
    """Integer parameters of a population fed by ``weights`` (float, torch layout) with
    ``biases`` (per output channel or None), as the module docstring says.

    ``gain`` may be a 0-dim tensor carrying a gradient (QAT's PLIF ``k``); its value must be the
    exporter's float. ``scale``, ``vth``, ``dv`` and the bias exponent are chosen on detached
    values (no gradient through a max or a floor)."""
    g = float(gain.detach()) if isinstance(gain, Tensor) else float(gain)
    peak = max((float(w.detach().abs().max()) * abs(g) for w in weights if w.numel()),
               default=0.0)
    vth = choose_vth(peak, threshold)
    scale = vth / threshold
    device = weights[0].device if weights else None
    gain_t = gain if isinstance(gain, Tensor) else torch.tensor(g, dtype=torch.float64,
                                                                 device=device)
    gain_t = gain_t.to(torch.float64)
    q = [(round_ste(w.to(torch.float64) * gain_t * scale / 2) * 2).clamp(W_MIN, W_MAX)
         for w in weights]
    total = torch.zeros(channels, dtype=torch.float64, device=device)
    for b in biases:
        if b is not None:
            total = total + b.to(torch.float64)
    bias_eff = total * gain_t * scale * STATE_SHIFT
    exp = 0
    plain = bias_eff.detach()
    while plain.numel() and float(torch.round(plain / 2**exp).abs().max()) > BIAS_MANT_MAX \
            and exp < BIAS_EXP_MAX:
        exp += 1
    mant = round_ste(bias_eff / 2**exp).clamp(BIAS_MANT_MIN, BIAS_MANT_MAX)
    return FixedPoint(q, mant, exp, mant * 2**exp, scale, decay_mant(decay), int(vth))
