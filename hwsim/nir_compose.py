"""Two weight nodes in series with no spiking node between them, as the one synapse layer a
chip runs.

A neuromorphic core holds one layer of synapses between two neuron populations, so hwsim costs
a chain of linear nodes between spiking layers as their composition (exact: linear maps
compose). Two cases occur in real exports:

- autosnn writes N-MNIST's 34x34 -> 32x32 centre crop as a one-tap "selector" conv before the
  stem conv (Conv2d -> Conv2d);
- snntorch, spikingjelly and sinabs (the NIR paper's N-MNIST CNN) write a pool after a spiking
  layer and before the next weight layer (LIF -> AvgPool2d/SumPool2d -> Conv2d, or
  -> Flatten -> Linear/Affine). Lava-dl has no pooling layer either (netx refuses `pool`): a
  pool becomes part of the next layer's weights there too.

Pools in series (non-overlapping, one kind) chain into one pool of kernel k1*k2, which is what
a chip that pools in the sending core runs (sinabs's cumulative pooling on Speck) and keeps the
pool a pool, so it composes into a Linear after it. A pool composes only into the weight node
AFTER it. A pool after a conv with no spiking node
between them (conv -> pool -> LIF) stays refused: `tests/test_hwsim_robust.py` pins that.

What composition costs, stated: synaptic events and messages are exact (an input spike reaches
the same outputs through the composite as through pool then conv). With a shared conv kernel
the composite kernel is larger than the two stored apart (pool 2x2 then conv 3x3 is a 6x6
kernel of stride 2, whose 2x2 blocks repeat): a chip that stores kernels once is charged up to
k_pool^2 times the second conv's kernel memory.
"""

from __future__ import annotations

import nir
import numpy as np

from hwsim.errors import HwsimInputError
from hwsim.nir_fields import MAX_COMPOSITE_WEIGHTS, conv_out_hw, numeric_padding, pair, weight_of

POOL_TYPES = (nir.SumPool2d, nir.AvgPool2d)
DENSE_TYPES = (nir.Linear, nir.Affine)


def _cap(dims: tuple[int, ...], name: str, what: str, where: str) -> None:
    """Refuse a composite before allocating it (weights of chained strided layers grow fast)."""
    if int(np.prod(dims, dtype=object)) > MAX_COMPOSITE_WEIGHTS:
        got = "x".join(str(d) for d in dims)
        raise HwsimInputError(
            where, name,
            f"{what} whose composite kernel has at most {MAX_COMPOSITE_WEIGHTS} weights (got {got})",
        )


def _pool_geometry(
    node: nir.NIRNode, name: str, where: str
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], float]:
    """Kernel, stride, padding and per-tap weight of a sum (1) or average (1/k^2) pool."""
    kernel = pair(node.kernel_size, f"{name}.kernel_size", where)
    stride = pair(node.stride, f"{name}.stride", where)
    padding = pair(node.padding, f"{name}.padding", where)
    if min(kernel) < 1 or min(stride) < 1 or min(padding) < 0:
        raise HwsimInputError(where, name, "a pool with kernel and stride >= 1, padding >= 0")
    value = 1.0 if isinstance(node, nir.SumPool2d) else 1.0 / (kernel[0] * kernel[1])
    return kernel, stride, padding, value


def pool_as_conv(node: nir.NIRNode, channels: int, name: str, where: str) -> nir.Conv2d:
    """A sum or average pool over `channels` channels as the plain Conv2d it is (channel c
    reads only channel c), so it composes like any conv."""
    kernel, stride, padding, value = _pool_geometry(node, name, where)
    _cap((channels, channels, *kernel), name, "a pool", where)
    weight = np.zeros((channels, channels, *kernel))
    weight[np.arange(channels), np.arange(channels)] = value
    return nir.Conv2d(input_shape=None, weight=weight, stride=stride, padding=padding,
                      dilation=1, groups=1, bias=np.zeros(channels))


def compose_convs(first: nir.NIRNode, second: nir.NIRNode, names: tuple[str, str],
                  where: str) -> nir.Conv2d | None:
    """Two Conv2d in series with nothing spiking between them, as one Conv2d (None when they
    are not both plain convolutions: groups 1, dilation 1).

    Composite: stride s1*s2, kernel k1 + (k2 - 1)*s1, padding p1 + p2*s1, non-zero pattern of
    the composed kernels (absolute values, so no connection cancels out). At the borders it
    connects the input the second conv would have seen as zero padding: a slight overcount of
    border synapses, stated here.
    """
    if not (isinstance(first, nir.Conv2d) and isinstance(second, nir.Conv2d)):
        return None
    for node, name in zip((first, second), names, strict=True):
        if int(node.groups) != 1 or pair(node.dilation, f"{name}.dilation", where) != (1, 1):
            return None
    w1, w2 = np.abs(weight_of(first, names[0], where)), np.abs(weight_of(second, names[1], where))
    if w1.ndim != 4 or w2.ndim != 4 or w2.shape[1] != w1.shape[0]:
        return None
    s1 = pair(first.stride, f"{names[0]}.stride", where)
    s2 = pair(second.stride, f"{names[1]}.stride", where)
    p1 = numeric_padding(first, names[0], where)
    p2 = numeric_padding(second, names[1], where)
    (k1h, k1w), (k2h, k2w) = w1.shape[2:], w2.shape[2:]
    kh, kw = k1h + (k2h - 1) * s1[0], k1w + (k2w - 1) * s1[1]
    _cap((w2.shape[0], w1.shape[1], kh, kw), names[1], "convs in series", where)
    weight = np.zeros((w2.shape[0], w1.shape[1], kh, kw))
    for a in range(k2h):
        for b in range(k2w):
            y, x = a * s1[0], b * s1[1]
            weight[:, :, y:y + k1h, x:x + k1w] += np.einsum("om,miuv->oiuv", w2[:, :, a, b], w1)
    pad = _trim_zero_rings(weight, [p1[0] + p2[0] * s1[0], p1[1] + p2[1] * s1[1]])
    weight = weight[:, :, pad[2]:weight.shape[2] - pad[2], pad[3]:weight.shape[3] - pad[3]]
    return nir.Conv2d(
        input_shape=first.input_shape, weight=weight, stride=(s1[0] * s2[0], s1[1] * s2[1]),
        padding=(pad[0], pad[1]), dilation=1, groups=1, bias=np.zeros(weight.shape[0]),
    )


def _trim_zero_rings(weight: np.ndarray, pad: list[int]) -> list[int]:
    """All-zero border rings of the composite kernel that lie within the padding (the crop's
    selector taps leave one), so its kernel area is the synapses it really has: returns the
    remaining padding (rows, cols) and the rings to cut (rows, cols)."""
    cut = [0, 0]
    for axis in (0, 1):
        used = np.flatnonzero(weight.any(axis=(0, 1, 3 - axis)))
        if used.size:
            cut[axis] = min(int(used[0]), weight.shape[2 + axis] - 1 - int(used[-1]), pad[axis])
    return [pad[0] - cut[0], pad[1] - cut[1], cut[0], cut[1]]


def pool_into_dense(pool: nir.NIRNode, dense: nir.NIRNode, names: tuple[str, str],
                    in_chw: tuple[int, int, int], where: str) -> nir.Linear:
    """A pool followed (through Flatten) by a Linear/Affine, as one Linear on the pool's input:
    column i of the composite sums the dense columns of every pool cell input i falls in."""
    kernel, stride, padding, value = _pool_geometry(pool, names[0], where)
    c, h, w = in_chw
    ho, wo = conv_out_hw((h, w), kernel, stride, padding, (1, 1))
    w2 = np.abs(weight_of(dense, names[1], where))
    if w2.ndim != 2 or w2.shape[1] != c * ho * wo:
        raise HwsimInputError(
            where, f"{names[1]}.weight",
            f"(N, {c * ho * wo}) to read the {c}x{ho}x{wo} output of {names[0]}",
        )
    _cap((w2.shape[0], c * h * w), names[1], "a pool before a dense layer", where)
    comp = np.zeros((w2.shape[0], c * h * w))
    cc, yy, xx = np.meshgrid(np.arange(c), np.arange(ho), np.arange(wo), indexing="ij")
    out_idx = ((cc * ho + yy) * wo + xx).ravel()
    for a in range(kernel[0]):
        for b in range(kernel[1]):
            iy = (yy * stride[0] - padding[0] + a).ravel()
            ix = (xx * stride[1] - padding[1] + b).ravel()
            ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
            in_idx = (cc.ravel()[ok] * h + iy[ok]) * w + ix[ok]
            comp[:, in_idx] += value * w2[:, out_idx[ok]]  # one tap: out -> in is one-to-one
    return nir.Linear(weight=comp)


def chain_pools(first: nir.NIRNode, second: nir.NIRNode, names: tuple[str, str],
                where: str) -> nir.NIRNode | None:
    """Two non-overlapping pools of one kind in series as one pool of kernel k1*k2 (None when
    they overlap, pad or differ in kind): exactly the same sums (or means), and what a chip
    that pools in the sending core runs. sinabs consolidates chained pools this way (its
    "cumulative pooling" per destination), so the pool stays a pool: it can still compose into
    a dense layer after it (a head's Linear after two pools), and Speck sizes the weight node
    after it, not a composite."""
    if type(first) is not type(second):
        return None
    k1, s1, p1, _ = _pool_geometry(first, names[0], where)
    k2, s2, p2, _ = _pool_geometry(second, names[1], where)
    if k1 != s1 or k2 != s2 or p1 != (0, 0) or p2 != (0, 0):
        return None
    kernel = (k1[0] * k2[0], k1[1] * k2[1])
    return type(first)(kernel_size=np.array(kernel), stride=np.array(kernel),
                       padding=np.array((0, 0)))


def compose(first: nir.NIRNode, second: nir.NIRNode, names: tuple[str, str],
            first_in: tuple[int, ...], where: str) -> nir.NIRNode | None:
    """`first` then `second` as one weight node, or None when hwsim does not compose them.

    `first_in` is the shape entering `first` (a pool needs its channel count)."""
    if isinstance(first, POOL_TYPES):
        if len(first_in) != 3:
            raise HwsimInputError(where, names[0], f"a (C, H, W) input to pool (got {first_in})")
        chw = (int(first_in[0]), int(first_in[1]), int(first_in[2]))
        if isinstance(second, DENSE_TYPES):
            return pool_into_dense(first, second, names, chw, where)
        if isinstance(second, POOL_TYPES):  # pools keep the channel count
            chained = chain_pools(first, second, names, where)
            if chained is not None:
                return chained
            second = pool_as_conv(second, chw[0], names[1], where)
        conv = pool_as_conv(first, chw[0], names[0], where)
        return compose_convs(conv, second, names, where)
    return compose_convs(first, second, names, where)
