"""What would fit: scale a network's widths (channels) or conv kernel sizes and re-check a chip.

hwsim cannot rebuild the producer's network (it knows NIR, not autosnn), so it rescales the
reduced `Network` it already has: every spiking layer with channels gets round(C * f) channels
(the input keeps its shape, flat layers such as a classifier's hidden units keep their size, a
dense projection becomes all-to-all at the new size), or every conv (not pooling) gets a smaller
odd kernel with 'same' padding. Each candidate is partitioned and costed on the chip; the report
names the rule that rejects the ones that do not fit, so a user learns which knob matters.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hwsim.activity import Activity, uniform_activity
from hwsim.chip import ChipSpec
from hwsim.estimate import estimate
from hwsim.network import Layer, Network, Projection


@dataclass(frozen=True)
class FitRow:
    """One candidate: `width` = channels of the first spiking layer, `kernel` = conv kernel
    size (None: as built); `reasons` is empty when it fits."""

    width: int
    kernel: int | None
    feasible: bool
    cores: int
    chips: int
    reasons: tuple[str, ...]


def base_width(net: Network) -> int:
    """Channels of the first spiking layer with channels (C, H, W): the network's width knob."""
    for la in net.neuron_layers:
        if len(la.shape) == 3:
            return int(la.shape[0])
    raise ValueError("no convolutional spiking layer: width cannot be scaled")


def scale_network(net: Network, width: int, kernel: int | None = None) -> Network:
    """The network at `width` channels for its first spiking layer (others in proportion) and,
    if given, every non-pooling conv kernel replaced by `kernel` x `kernel` ('same' padding)."""
    if width < 1:
        raise ValueError(f"width must be a positive integer, got {width}")
    if kernel is not None and (kernel < 1 or kernel % 2 == 0):
        raise ValueError(f"kernel must be a positive odd integer, got {kernel}")
    f = width / base_width(net)
    layers: dict[str, Layer] = {}
    for la in net.layers:
        if la.kind != "input" and len(la.shape) == 3:
            c = max(1, round(la.shape[0] * f))
            layers[la.name] = Layer(la.name, la.kind, (c, *la.shape[1:]))
        else:
            layers[la.name] = la
    projections: list[Projection] = []
    for p in net.projections:
        src, dst = layers[p.src], layers[p.dst]
        if p.kind == "identity":
            if src.size != dst.size:
                raise ValueError(f"{p.src}->{p.dst}: identity edge cannot be rescaled")
            projections.append(replace(p, in_chw=src.chw, out_chw=dst.chw))
        elif p.kind == "dense":
            mask = np.ones((dst.size, src.size), dtype=bool)
            projections.append(replace(p, in_chw=src.chw, out_chw=dst.chw, mask=mask))
        else:
            groups = p.groups
            if p.pool or (p.groups == p.in_chw[0] and p.groups > 1):
                groups = src.chw[0]
            k, pad = p.kernel, p.padding
            if kernel is not None and not p.pool and max(p.kernel) > 1:
                k = (kernel, kernel)
                pad = ((kernel - 1) // 2 * p.dilation[0], (kernel - 1) // 2 * p.dilation[1])
            out_chw = (dst.chw[0], *p.out_chw[1:])
            if p.pool:
                out_chw = (src.chw[0], *p.out_chw[1:])
            projections.append(
                replace(p, in_chw=src.chw, out_chw=out_chw, groups=groups, kernel=k, padding=pad)
            )
    return Network(tuple(layers.values()), tuple(projections), net.timesteps)


def fit(
    net: Network,
    chip: ChipSpec,
    *,
    widths: list[int] | None = None,
    kernels: list[int | None] | None = None,
    activity: Activity | None = None,
) -> list[FitRow]:
    """Feasibility of the network at each width x kernel size on `chip` (widest first)."""
    c0 = base_width(net)
    if widths is None:
        widths = sorted({max(1, c0 * k // 16) for k in range(1, 17)} | {c0}, reverse=True)
    if kernels is None:
        biggest = max(
            (max(p.kernel) for p in net.projections if p.kind == "conv" and not p.pool), default=1
        )
        kernels = [None, *range(biggest - 2, 0, -2)]
    act = activity or uniform_activity(timesteps=net.timesteps or 8)
    rows = []
    for k in kernels:
        for w in widths:
            scaled = scale_network(net, w, k)
            rec = estimate(scaled, act, chip, placement="sequential")
            rows.append(FitRow(w, k, rec.feasible, rec.cores_used, rec.chips_used, rec.reasons))
    return rows
