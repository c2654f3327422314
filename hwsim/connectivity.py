"""Exact synapse geometry of a projection, vectorised over neurons.

Two questions are asked of every projection: how many synaptic events reach each destination
neuron (synaptic ops, and with unit counts the per-neuron fan-in), and which destination pieces a
source neuron has targets in (who must receive its spike). Both are answered from the conv
geometry without building a dense connection matrix, so a 64-channel 32x32 layer split over
thousands of cores stays cheap.
"""

from __future__ import annotations

import numpy as np

from hwsim.network import Projection


def incoming_events(proj: Projection, src_counts: np.ndarray) -> np.ndarray:
    """Synaptic events arriving at each destination neuron: (..., N_src) -> (..., N_dst).

    With per-neuron spike counts this is the synaptic-op count per destination neuron; with
    all-ones counts it is each destination neuron's fan-in (number of synapses). Leading axes
    (timesteps) are carried through, so per-timestep work costs one call, not T.
    """
    src_counts = np.asarray(src_counts, dtype=np.float64)
    lead = src_counts.shape[:-1]
    if proj.kind == "identity":
        return src_counts.copy()
    if proj.kind == "dense":
        assert proj.mask is not None
        return src_counts @ proj.mask.T.astype(np.float64)
    cin, hin, win = proj.in_chw
    cout, hout, wout = proj.out_chw
    g = proj.groups
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = proj.kernel, proj.stride, proj.padding, proj.dilation
    b = int(np.prod(lead, dtype=np.int64))
    per_group = src_counts.reshape(b, g, cin // g, hin, win).sum(axis=2)  # (B, G, Hin, Win)
    padded = np.zeros((b, g, hin + 2 * ph, win + 2 * pw))
    padded[:, :, ph : ph + hin, pw : pw + win] = per_group
    out = np.zeros((b, g, hout, wout))
    for ky in range(kh):
        for kx in range(kw):
            y0, x0 = ky * dh, kx * dw
            out += padded[
                :, :, y0 : y0 + sh * (hout - 1) + 1 : sh, x0 : x0 + sw * (wout - 1) + 1 : sw
            ]
    out = np.repeat(out, cout // g, axis=1)  # (B, Cout, Hout, Wout)
    return out.reshape(*lead, cout * hout * wout)


def _window_inputs(proj: Projection, out_mask: np.ndarray) -> np.ndarray:
    """Input positions (Hin, Win) that feed at least one output position in `out_mask`."""
    _, hin, win = proj.in_chw
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = proj.kernel, proj.stride, proj.padding, proj.dilation
    oy, ox = np.nonzero(out_mask)
    hit = np.zeros((hin, win), dtype=bool)
    for ky in range(kh):
        y = oy * sh - ph + ky * dh
        for kx in range(kw):
            x = ox * sw - pw + kx * dw
            ok = (y >= 0) & (y < hin) & (x >= 0) & (x < win)
            hit[y[ok], x[ok]] = True
    return hit


def _footprint(a: int, b: int, chw: tuple[int, int, int], channels: range) -> np.ndarray:
    """(H, W) output positions that flat range [a, b) covers in any of `channels`."""
    c, h, w = chw
    hw = h * w
    mask = np.zeros(hw, dtype=bool)
    for ch in channels:
        lo, hi = max(a, ch * hw), min(b, (ch + 1) * hw)
        if lo < hi:
            mask[lo - ch * hw : hi - ch * hw] = True
    return mask.reshape(h, w)


def target_pieces(proj: Projection, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sparse (source neuron, destination piece) pairs: neuron i has a synapse into piece q.

    `bounds` is (Q, 2) flat [start, stop) neuron ranges of the destination layer's pieces.
    Returned as two equal-length int arrays, sorted by piece; a dense (N_src, Q) matrix would not
    fit memory for a 4,096-core chip.
    """
    bounds = np.asarray(bounds, dtype=np.int64).reshape(-1, 2)
    n_src = int(np.prod(proj.in_chw))
    if proj.kind == "identity":
        idx = np.arange(n_src)
        piece = np.searchsorted(bounds[:, 1], idx, side="right")
        keep = piece < len(bounds)
        return idx[keep], piece[keep]
    src_parts: list[np.ndarray] = []
    dst_parts: list[np.ndarray] = []
    if proj.kind == "dense":
        assert proj.mask is not None
        for q, (a, b) in enumerate(bounds):
            hit = np.flatnonzero(proj.mask[a:b].any(axis=0))
            src_parts.append(hit)
            dst_parts.append(np.full(hit.size, q))
    else:
        cin, hin, win = proj.in_chw
        cout, hout, wout = proj.out_chw
        hw = hout * wout
        out_per_group, in_per_group = cout // proj.groups, cin // proj.groups
        cache: dict[bytes, np.ndarray] = {}
        for q, (a, b) in enumerate(bounds):
            c0, c1 = int(a) // hw, (int(b) - 1) // hw
            for g in range(c0 // out_per_group, c1 // out_per_group + 1):
                group_channels = range(
                    max(c0, g * out_per_group), min(c1 + 1, (g + 1) * out_per_group)
                )
                foot = _footprint(int(a), int(b), proj.out_chw, group_channels)
                key = np.packbits(foot).tobytes()
                pos = cache.get(key)
                if pos is None:
                    pos = np.flatnonzero(_window_inputs(proj, foot))
                    cache[key] = pos
                chans = np.arange(g * in_per_group, (g + 1) * in_per_group)
                neurons = (chans[:, None] * (hin * win) + pos[None, :]).ravel()
                src_parts.append(neurons)
                dst_parts.append(np.full(neurons.size, q))
    if not src_parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    src, dst = np.concatenate(src_parts), np.concatenate(dst_parts)
    return src.astype(np.int64, copy=False), dst.astype(np.int64, copy=False)
