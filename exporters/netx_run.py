"""Lava's bit-accurate CUBA-LIF dynamics of a netx network (:mod:`exporters.netx_import`), in
numpy: the reference that checks the importer against lava-dl's ground-truth spikes and gives
hwsim a network's real activity without Lava installed."""

from __future__ import annotations

import numpy as np

from exporters.netx_import import _MAX_UV, DECAY_UNITY, STATE_SHIFT, NetxLayer, NetxNetwork


def _decay(x: np.ndarray, d: int) -> np.ndarray:
    """Lava's ``sign(x) * ((|x| * (4096 - d)) >> 12)``: truncation towards zero."""
    return np.sign(x) * ((np.abs(x) * (DECAY_UNITY - d)) >> 12)


def _conv(x: np.ndarray, layer: NetxLayer) -> np.ndarray:
    """Integer cross-correlation of (C, H, W) spikes with the layer's torch-layout kernel."""
    w = layer.weight
    assert w is not None
    cin, h, wd = x.shape
    kh, kw = w.shape[2:]
    (sh, sw), (ph, pw), (dh, dw) = layer.stride, layer.padding, layer.dilation
    xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw)))
    _, oh, ow = layer.shape
    g = layer.groups
    cin_g, cout_g = cin // g, w.shape[0] // g
    out = np.zeros(layer.shape, dtype=np.int64)
    for gi in range(g):
        xs = xp[gi * cin_g:(gi + 1) * cin_g]
        ws = w[gi * cout_g:(gi + 1) * cout_g].reshape(cout_g, cin_g, kh * kw)
        cols = np.empty((cin_g, kh * kw, oh, ow), dtype=np.int64)
        for a in range(kh):
            for b in range(kw):
                y0, x0 = a * dh, b * dw
                cols[:, a * kw + b] = xs[:, y0:y0 + sh * (oh - 1) + 1:sh, x0:x0 + sw * (ow - 1) + 1:sw]
        out[gi * cout_g:(gi + 1) * cout_g] = np.einsum("okq,kqhw->ohw", ws, cols)
    return out


def run_fixed_point(net: NetxNetwork, steps: int, pixels: np.ndarray | None = None,
                    input_bias: np.ndarray | None = None,
                    input_spikes: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Run one sample for ``steps`` steps from reset with Lava's bit-accurate CUBA-LIF
    (``PyLifModelBitAcc``: u = decay(u) + a << 6; v = decay(v) + u + bias << 6; spike when
    v > vth << 6, then v = 0; 24-bit state) and integer synapses.

    Time is aligned per layer: layer k at step t reads layer k-1's spikes of step t. (Lava's
    pipeline delays each layer by one step, and netx resets layer k at offset k, so on the chip
    layer k's step t happens k steps later; the counts per inference are the same.)

    The input layer is driven by ``input_bias`` (its integer bias per neuron, (C, H, W), as
    lava-dl's ground truth gives it), or by ``pixels`` through its transform, or, for a file
    without input neurons, by ``input_spikes`` (steps, C, H, W). Returns per-layer spikes
    ``{name: (steps, *shape)}`` as uint8 (the input neurons' too).
    """
    out: dict[str, np.ndarray] = {}
    x_steps: np.ndarray | None = None
    first = net.layers[0]
    if first.neuron is None:
        if input_spikes is None or input_spikes.shape != (steps, *first.shape):
            raise ValueError(f"input_spikes of shape {(steps, *first.shape)} needed")
        x_steps = input_spikes.astype(np.int64)
    for layer in net.layers:
        n = layer.neuron
        if layer.kind == "input":
            if n is None:
                continue
            if input_bias is None:
                if pixels is None:
                    raise ValueError("input_bias or pixels needed for an input layer with neurons")
                input_bias = layer.transform[0] * np.asarray(pixels) + layer.transform[1]
            bias = np.round(np.asarray(input_bias)).astype(np.int64).reshape(layer.shape)
            drive = [np.zeros(layer.shape, dtype=np.int64)] * steps
        else:
            assert n is not None and x_steps is not None
            b = layer.bias if layer.bias is not None else np.zeros(layer.shape[0], dtype=np.int64)
            bias = (b.reshape(-1, 1, 1) if layer.kind == "conv" else b).astype(np.int64)
            if layer.kind == "conv":
                drive = [_conv(x_steps[t], layer) for t in range(steps)]
            else:
                assert layer.weight is not None
                flat = x_steps.reshape(steps, -1)
                drive = list(flat @ layer.weight.T)
        assert n is not None
        u = np.zeros(layer.shape, dtype=np.int64)
        v = np.zeros(layer.shape, dtype=np.int64)
        s_all = np.zeros((steps, *layer.shape), dtype=np.uint8)
        for t in range(steps):
            u = _decay(u, min(n.i_decay, DECAY_UNITY)) + (drive[t] << STATE_SHIFT)
            u = np.where(u > _MAX_UV, u - 2 * _MAX_UV, u)
            u = np.where(u <= -_MAX_UV, u + 2 * _MAX_UV, u)
            v = _decay(v, n.v_decay) + u + (bias << STATE_SHIFT)
            v = np.clip(v, -_MAX_UV + 1, _MAX_UV - 1)
            s = v > (n.vth_mant << STATE_SHIFT)
            v = np.where(s, 0, v)
            s_all[t] = s
        out[layer.name] = s_all
        x_steps = s_all.astype(np.int64)
    return out
