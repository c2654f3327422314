"""Run a Lava export (netx HDF5, or the autosnn process graph through
:func:`exporters.lava_graph.run_plan`) with ``Loihi2SimCfg(select_tag="fixed_pt")`` and compare.

netx files:

The input and each netx layer add one timestep of latency, while every layer charges its bias from
the first step, so the network is loaded with ``reset_interval = T, reset_offset = 1`` (netx
staggers each layer's reset by one step per layer): layer ``i`` is reset exactly when the first
input of a sample reaches it. Samples are presented back to back, T steps each, and layer ``i``'s
spikes for sample ``n`` are read in steps ``[n T + i + 1, n T + i + 1 + T)``.

The host runs the encoder (stem conv + BN + PLIF) and feeds its spikes; votes are the output
layer's spikes summed per group of 10 and averaged over T (as the PyTorch head does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import torch
from torch import Tensor

from exporters.base import ExportError


@dataclass
class LavaResult:
    """Per-layer spikes (T, N, *CHW or features) keyed by autosnn module name, and firing rates."""

    spikes: dict[str, np.ndarray] = field(default_factory=dict)
    rates: np.ndarray | None = None  # (N, classes)


def run_lava(path: str | Path, stem_spikes: Tensor | np.ndarray, num_classes: int) -> LavaResult:
    """Run the netx file on the encoder's spikes ``(T, N, C, H, W)``."""
    from exporters import lava_compat

    lava_compat.install()
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such netx file")
    with h5py.File(path, "r") as f:
        names = str(f.attrs["layer_names"]).split(",")
    s = stem_spikes.detach().cpu().numpy() if isinstance(stem_spikes, Tensor) else stem_spikes
    T, N = s.shape[:2]
    net = netx.hdf5.Network(net_config=str(path), reset_interval=T, reset_offset=1)
    depth = len(net.layers)
    if depth != len(names):
        raise ExportError(f"{path}: {depth} layers but {len(names)} layer names")
    steps = N * T + depth + 1
    data = np.zeros((*s.shape[2:][::-1], steps), dtype=np.int32)  # (W, H, C, steps)
    data[..., : N * T] = np.moveaxis(s.transpose(1, 0, 4, 3, 2).reshape(N * T, *data.shape[:3]),
                                     0, -1)
    src = Source(data=data)
    src.s_out.connect(net.inp)
    sinks = []
    for layer in net.layers:
        sink = Sink(shape=layer.out.shape, buffer=steps)
        layer.out.connect(sink.a_in)
        sinks.append(sink)
    try:
        net.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        raw = [sink.data.get() for sink in sinks]
    finally:
        net.stop()
    res = LavaResult()
    for i, (name, r) in enumerate(zip(names, raw)):
        per = []
        for n in range(N):
            lo = n * T + i + 1
            w = np.moveaxis(r[..., lo : lo + T], -1, 0)  # (T, W, H, C) or (T, F)
            per.append(w.transpose(0, 3, 2, 1) if w.ndim == 4 else w)
        res.spikes[name] = np.stack(per, axis=1).astype(np.float32)  # (T, N, ...)
    out = res.spikes[names[-1]]
    res.rates = out.reshape(T, N, num_classes, 10).mean(-1).mean(0)
    return res


def run_lava_file(path: str | Path, net, x: Tensor) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Run a file written by :func:`exporters.lava_export.export_lava` (netx or process graph)
    on input ``x``; the host encoder is ``net``'s stem. Returns per-population spikes
    ``{name: (T, N, ...)}`` and firing rates ``(N, classes)``."""
    from exporters.interop import model_run
    from exporters.lava_export import GRAPH_FORMAT, read_lava_graph
    from exporters.lava_graph import run_plan

    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such Lava file")
    with h5py.File(path, "r") as f:
        fmt = str(f.attrs.get("format", "netx"))
    ref = model_run(net, x)
    if fmt == GRAPH_FORMAT:
        plan = read_lava_graph(path)
        spikes, votes = run_plan(plan, {k: ref.spikes[k].numpy() for k in plan.encoder})
        return spikes, votes.mean(0)
    res = run_lava(path, ref.spikes["stem.lif"], net.head.num_classes)
    return res.spikes, res.rates  # type: ignore[return-value]


def compare_lava(net, x: Tensor, path: str | Path) -> dict:
    """Per-layer spike-count ratio (Lava / PyTorch), cosine similarity of time-averaged activity,
    per-layer spike mismatch rate, and class agreement on ``x``."""
    from exporters.interop import cosine, model_run

    ref = model_run(net, x)
    with torch.no_grad():
        rates = net(x).numpy()
    spikes, lava_rates = run_lava_file(path, net, x)
    layers = {}
    for name, spk in spikes.items():
        a = ref.spikes[name].float()
        b = torch.from_numpy(spk).reshape(a.shape)
        layers[name] = {
            "count_torch": float(a.sum()),
            "count_lava": float(b.sum()),
            "cosine": cosine(a, b),
            "mismatch": float((a != b).float().mean()),
        }
    same = lava_rates.argmax(-1) == rates.argmax(-1)
    # votes come in steps of one output spike (1 / (10 T)): a decision PyTorch makes by less than
    # two spikes flips with any single spike difference, so agreement is also given without them
    top = np.sort(rates, axis=-1)[:, -2:]
    T = net.timesteps if x.dim() == 4 else x.shape[0]
    decisive = (top[:, 1] - top[:, 0]) > 1.5 / (10 * T)
    return {"layers": layers, "class_agreement": float(same.mean()), "rates_lava": lava_rates,
            "rates_torch": rates, "decisive_fraction": float(decisive.mean()),
            "decisive_agreement": float(same[decisive].mean()) if decisive.any() else float("nan")}

