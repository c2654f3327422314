"""What SANA-FE is given for a NIR graph: Loihi-LIF parameters, synapse lists, input spike trains.

Each function restates one piece of the NIR graph in SANA-FE's terms exactly as hwsim counts it
(dense: non-zero weights, as hwsim's mask; conv and pooling: every in-range kernel tap, as hwsim's
geometry), so that both engines see the same events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import nir
import numpy as np

from hwsim.activity import Activity
from hwsim.errors import HwsimInputError
from hwsim.network import Network, Projection


@dataclass(frozen=True)
class NeuronParams:
    """Loihi-LIF parameters equivalent to a NIR neuron under forward Euler at dt.

    NIR LIF `v += dt/tau (v_leak - v + r I)` is `v = (1 - k) v + k r I + k v_leak` with k = dt/tau:
    leak_decay = 1 - k, incoming weights scaled by k r, bias k v_leak. IF: no leak, scale dt r.
    CubaLIF: the synaptic filter becomes SANA-FE's input_decay. Threshold: no memory.
    """

    leak_decay: np.ndarray
    input_decay: np.ndarray
    scale: np.ndarray
    bias: np.ndarray
    threshold: np.ndarray
    reset: np.ndarray


def _arr(value: Any, size: int, default: float) -> np.ndarray:
    if value is None:
        return np.full(size, default)
    arr = np.asarray(value, dtype=np.float64).ravel()
    return np.broadcast_to(arr, (size,)).copy() if arr.size in (1, size) else np.full(size, default)


def neuron_params(node: nir.NIRNode, size: int, dt: float) -> NeuronParams:
    """See NeuronParams; unknown extras (e.g. refractory settings) are not carried over."""
    ones, zeros = np.ones(size), np.zeros(size)
    if isinstance(node, nir.Threshold):
        return NeuronParams(zeros, zeros, ones, zeros, _arr(node.threshold, size, 1.0), zeros)
    reset = _arr(getattr(node, "v_reset", None), size, 0.0)
    threshold = _arr(node.v_threshold, size, 1.0)
    if isinstance(node, nir.IF):
        return NeuronParams(ones, zeros, dt * _arr(node.r, size, 1.0), zeros, threshold, reset)
    if isinstance(node, nir.CubaLIF):
        k_mem = dt / _arr(node.tau_mem, size, 1.0)
        k_syn = dt / _arr(node.tau_syn, size, 1.0)
        scale = (
            k_mem * _arr(node.r, size, 1.0) * k_syn * _arr(getattr(node, "w_in", 1.0), size, 1.0)
        )
        bias = k_mem * _arr(node.v_leak, size, 0.0)
        return NeuronParams(1.0 - k_mem, 1.0 - k_syn, scale, bias, threshold, reset)
    k = dt / _arr(node.tau, size, 1.0)
    bias = k * _arr(node.v_leak, size, 0.0)
    return NeuronParams(1.0 - k, zeros, k * _arr(node.r, size, 1.0), bias, threshold, reset)


def projection_synapses(
    proj: Projection, node: nir.NIRNode | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(src, dst, weight) of every synapse, flat channel-major indices as hwsim counts them.

    Dense: non-zero weights only (hwsim's mask). Conv and pooling: every in-range kernel tap,
    zero weights included (hwsim's geometry). Identity: neuron i -> i, weight 1.
    """
    if proj.kind == "identity":
        idx = np.arange(int(np.prod(proj.in_chw)))
        return idx, idx, np.ones(idx.size)
    if proj.kind == "dense":
        assert node is not None
        weight = np.asarray(node.weight, dtype=np.float64)  # (N_dst, N_src)
        dst, src = np.nonzero(weight)
        return src, dst, weight[dst, src]
    cin, hin, win = proj.in_chw
    cout, hout, wout = proj.out_chw
    g = proj.groups
    cin_g, cout_g = cin // g, cout // g
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = proj.kernel, proj.stride, proj.padding, proj.dilation
    if proj.pool:
        tap = 1.0 / (kh * kw) if isinstance(node, nir.AvgPool2d) else 1.0
        weight = np.full((cout, 1, kh, kw), tap)
    else:
        assert node is not None
        weight = np.asarray(node.weight, dtype=np.float64)  # (Cout, Cin/g, kh, kw)
    oy, ox = np.meshgrid(np.arange(hout), np.arange(wout), indexing="ij")
    co = np.arange(cout)[:, None, None]  # (Cout, 1, 1)
    cig = np.arange(cin_g)[None, :, None]  # (1, Cin/g, 1)
    srcs, dsts, ws = [], [], []
    for ky in range(kh):
        for kx in range(kw):
            iy, ix = oy * sh - ph + ky * dh, ox * sw - pw + kx * dw
            ok = (iy >= 0) & (iy < hin) & (ix >= 0) & (ix < win)
            pos_in = (iy * win + ix)[ok][None, None, :]  # (1, 1, P)
            pos_out = (oy * wout + ox)[ok][None, None, :]
            ci = (co // cout_g) * cin_g + cig  # (Cout, Cin/g, 1)
            src = ci * (hin * win) + pos_in  # (Cout, Cin/g, P)
            dst = co * (hout * wout) + pos_out + 0 * cig
            w = np.broadcast_to(weight[:, :, ky, kx][:, :, None], src.shape)
            srcs.append(src.ravel())
            dsts.append(np.broadcast_to(dst, src.shape).ravel())
            ws.append(w.ravel())
    return np.concatenate(srcs), np.concatenate(dsts), np.concatenate(ws)


def bias_of(proj: Projection, node: nir.NIRNode | None, size: int) -> np.ndarray:
    """The bias a projection adds to each target neuron (a conv bias repeated over positions)."""
    bias = getattr(node, "bias", None) if node is not None else None
    if bias is None:
        return np.zeros(size)
    bias = np.asarray(bias, dtype=np.float64).ravel()
    if proj.kind == "conv" and bias.size == proj.out_chw[0]:
        return np.repeat(bias, proj.out_chw[1] * proj.out_chw[2])
    return bias if bias.size == size else np.zeros(size)


def input_raster(activity: Activity, net: Network) -> dict[str, np.ndarray]:
    """(T, N) bool spike raster per input layer from per-sample counts, spikes spread evenly.

    A per-timestep activity of 0/1 counts is a spike train and is used as it is; otherwise (summed
    counts, or per-step means over samples) a neuron with c spikes fires round(c) times at evenly
    spaced steps (deterministic, so both engines see the same input).
    """
    T = activity.timesteps
    out = {}
    for la in net.layers:
        if la.kind != "input":
            continue
        steps, measured = activity.steps_for(la.name, la.size)
        if measured and np.isin(steps, (0.0, 1.0)).all():  # a recorded spike train: keep it
            out[la.name] = np.asarray(steps, dtype=bool).copy()
            continue
        n = np.clip(np.rint(steps.sum(axis=0)), 0, T).astype(np.int64)
        raster = np.zeros((T, la.size), dtype=bool)
        for i in np.flatnonzero(n):
            steps = (np.floor((np.arange(n[i]) + 0.5) * T / n[i])).astype(np.int64)
            raster[steps, i] = True
        out[la.name] = raster
    return out


def graph_dt(graph: nir.NIRGraph) -> float:
    """The graph's `metadata["dt"]` (NIR default here: 1e-4 s), a positive finite number."""
    dt = (getattr(graph, "metadata", None) or {}).get("dt", 1e-4)
    try:
        dt = float(dt)
    except (TypeError, ValueError):
        raise HwsimInputError("<graph>", "metadata.dt", "a positive number") from None
    if not dt > 0 or not math.isfinite(dt):
        raise HwsimInputError("<graph>", "metadata.dt", "a positive number")
    return dt
