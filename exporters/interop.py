"""Run an exported ``.nir`` graph in other NIR consumers (norse, spikingjelly) and compare.

Agreement follows the NIR paper (Pedersen et al., Nat. Commun. 2024): per spiking layer, the cosine
similarity of time-averaged spike activity (per neuron, per sample, flattened), plus the class
decision of the output. Reference: our executor (:mod:`exporters.nir_run`) or the PyTorch model.

- norse (``norse.torch.from_nir``): runs one unbatched sample at a time, which is exactly NIR's
  shape semantics (no batch dimension; ``Flatten(start_dim=0)`` would otherwise fold the batch in).
  Loads the portable (default) or ``compat="norse"`` export (no Threshold / AvgPool2d in norse).
- spikingjelly (``import_from_nir``, single-step, explicit state): batched; loads the portable
  (default) or ``compat="spikingjelly"`` export (no SumPool2d / Threshold / grouped conv).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nir
import numpy as np
import torch
from torch import Tensor

from exporters.base import ExportError
from exporters.nir_run import from_nir


@dataclass
class ConsumerRun:
    """Per-step output (T, N, classes) and per-node spikes (T, N, *shape) of one consumer run."""

    output: Tensor
    spikes: dict[str, Tensor]


@dataclass
class Agreement:
    """Per-layer cosine similarity of time-averaged activity and output-class agreement."""

    cosine: dict[str, float] = field(default_factory=dict)
    class_agreement: float = float("nan")
    spike_mismatch_rate: float = float("nan")  # fraction of (t, n, neuron) spike values differing

    @property
    def min_cosine(self) -> float:
        return min(self.cosine.values()) if self.cosine else float("nan")

    @property
    def mean_cosine(self) -> float:
        return float(np.mean(list(self.cosine.values()))) if self.cosine else float("nan")


def _graph(g: nir.NIRGraph | str | Path) -> nir.NIRGraph:
    if isinstance(g, nir.NIRGraph):
        return g
    from exporters.nir_export import read_nir

    return read_nir(g)


def _frames(x: Tensor, T: int | None) -> Tensor:
    if T is None:
        return x
    return x.unsqueeze(0).expand(T, *x.shape)


def _desanitize(graph: nir.NIRGraph) -> dict[str, str]:
    from nirtorch.utils import sanitize_name

    return {sanitize_name(n): n for n in graph.nodes}


def _norse_module(graph: nir.NIRGraph, dt: float, loader: str) -> torch.nn.Module:
    import norse.torch as nt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if loader == "from_nir":
            return nt.from_nir(graph, dt=dt, ignore_warnings=True)
        if loader == "nir_to_torch":  # norse's node mapping, wired by nirtorch's fx interpreter
            from functools import partial

            import nirtorch
            from norse.torch.utils.import_nir import _import_norse_module

            fn = partial(_import_norse_module, ignore_warnings=True, dt=dt)
            kinds = {type(n) for n in graph.nodes.values()} - {nir.Input, nir.Output}
            return nirtorch.nir_to_torch(graph, {k: fn for k in kinds})
    raise ExportError(f"unknown norse loader {loader!r}; use 'from_nir' or 'nir_to_torch'")


def run_norse(
    g: nir.NIRGraph | str | Path, x: Tensor, T: int | None = None, *, loader: str = "from_nir"
) -> ConsumerRun:
    """Load the graph in norse (dt from metadata) and run it, one unbatched sample at a time.

    ``loader="from_nir"`` is ``norse.torch.from_nir``: it wires the graph with nirtorch's
    deprecated ``GraphExecutor``, whose depth-first execution order is not topological, so a node
    fed by two branches where the first-visited one is longer (a conv shortcut, a factorised
    reduce) reads the other branch's value from the previous step, and the returned output is the
    last node visited. ``loader="nir_to_torch"`` uses norse's own node mapping wired by nirtorch's
    fx interpreter (topological order), which runs the graph as specified.
    """
    graph = _graph(g)
    dt = float(graph.metadata["dt"])
    module = _norse_module(graph, dt, loader)  # ignore_warnings: IF's r = 1/dt is intended
    names = _desanitize(graph)
    frames = _frames(x, T)
    spikes: dict[str, list[list[Tensor]]] = {}
    current: list[tuple[str, Tensor]] = []
    hooks = []
    spiking = (nir.LIF, nir.IF, nir.Threshold, nir.Output)
    out_name = next(n for n, v in graph.nodes.items() if isinstance(v, nir.Output))
    for mname, mod in module.named_modules():
        orig = names.get(mname)
        if orig is not None and isinstance(graph.nodes[orig], spiking):
            spikes[orig] = []

            def hook(_m, _i, out, key=orig):
                current.append((key, (out[0] if isinstance(out, tuple) else out).detach()))

            hooks.append(mod.register_forward_hook(hook))
    outs = []
    try:
        with torch.no_grad():
            for n in range(frames.shape[1]):
                state = None
                per_t = []
                rec: dict[str, list[Tensor]] = {k: [] for k in spikes}
                for t in range(frames.shape[0]):
                    current.clear()
                    y, state = module(frames[t, n].float(), state)
                    for key, val in current:
                        if key == out_name:  # what reached the Output node (from_nir returns
                            y = val  # the last node it visited, not necessarily Output)
                        else:
                            rec[key].append(val)
                    per_t.append(y)
                outs.append(torch.stack(per_t))
                for k in spikes:
                    if k != out_name:
                        spikes[k].append(rec[k])
    finally:
        for h in hooks:
            h.remove()
    output = torch.stack(outs, dim=1)  # (T, N, classes)
    return ConsumerRun(
        output,
        {
            k: torch.stack([torch.stack(v) for v in vs], dim=1)
            for k, vs in spikes.items()
            if vs and vs[0]
        },
    )


def run_spikingjelly(
    g: nir.NIRGraph | str | Path, x: Tensor, T: int | None = None
) -> ConsumerRun:
    """Load the graph with spikingjelly's ``import_from_nir`` (dt from metadata) and run it."""
    from spikingjelly.activation_based.nir_exchange import import_from_nir

    graph = _graph(g)
    dt = float(graph.metadata["dt"])
    module = import_from_nir(graph, dt=dt, step_mode="s")
    names = _desanitize(graph)
    frames = _frames(x, T)
    current: dict[str, Tensor] = {}
    hooks = []
    spiking = (nir.LIF, nir.IF, nir.Threshold)
    for mname, mod in module.named_modules():
        orig = names.get(mname)
        if orig is not None and isinstance(graph.nodes[orig], spiking):

            def hook(_m, _i, out, key=orig):
                current[key] = (out[0] if isinstance(out, tuple) else out).detach()

            hooks.append(mod.register_forward_hook(hook))
    outs = []
    rec: dict[str, list[Tensor]] = {}
    try:
        with torch.no_grad():
            state = None
            for t in range(frames.shape[0]):
                current.clear()
                y, state = module(frames[t].float(), state)
                outs.append(y.detach())
                for k, v in current.items():
                    rec.setdefault(k, []).append(v)
    finally:
        for h in hooks:
            h.remove()
    return ConsumerRun(torch.stack(outs), {k: torch.stack(v) for k, v in rec.items()})


def run_reference(
    g: nir.NIRGraph | str | Path, x: Tensor, T: int | None = None, *, threshold: str = "strict"
) -> ConsumerRun:
    """Our executor, in the same :class:`ConsumerRun` form."""
    r = from_nir(_graph(g), threshold=threshold).run(x, T, record=True)
    return ConsumerRun(r.output, r.spikes)


CONSUMERS = {"norse": run_norse, "spikingjelly": run_spikingjelly, "executor": run_reference}


def cosine(a: Tensor, b: Tensor) -> float:
    """Cosine similarity of time-averaged activity (T, N, ...) -> flattened (N * neurons).

    Both silent: 1.0 (identical); one silent: 0.0.
    """
    ma, mb = a.float().mean(0).flatten().double(), b.float().mean(0).flatten().double()
    na, nb = ma.norm(), mb.norm()
    if na == 0 and nb == 0:
        return 1.0
    if na == 0 or nb == 0:
        return 0.0
    return float((ma @ mb) / (na * nb))


def agreement(ref: ConsumerRun, other: ConsumerRun) -> Agreement:
    """Compare two runs layer by layer (layers present in both) and by output class."""
    out = Agreement()
    diff = total = 0
    for k, a in ref.spikes.items():
        if k in other.spikes:
            b = other.spikes[k].reshape(a.shape)
            out.cosine[k] = cosine(a, b)
            diff += int((a != b).sum())
            total += a.numel()
    out.spike_mismatch_rate = diff / total if total else float("nan")
    if other.output.shape != ref.output.shape:
        out.class_agreement = 0.0  # the consumer did not produce the graph's output
        return out
    ca = ref.output.mean(0).argmax(-1)
    cb = other.output.mean(0).argmax(-1)
    out.class_agreement = float((ca == cb).float().mean())
    return out


def model_run(net, x: Tensor) -> ConsumerRun:
    """The PyTorch model itself (eval mode), per-step votes and per-layer spikes (T, N, ...)."""
    T = net.timesteps if x.dim() == 4 else x.shape[0]
    outs: dict[str, Tensor] = {}
    hooks = [
        m.register_forward_hook(lambda _m, _i, o, n=n: outs.__setitem__(n, o.detach()))
        for n, m in net.active_spiking_layers()
    ]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in hooks:
            h.remove()
    n = x.shape[0] if x.dim() == 4 else x.shape[1]
    spikes = {k: v.reshape(T, n, *v.shape[1:]) for k, v in outs.items()}
    last = spikes[net.active_spiking_layers()[-1][0]].float()
    classes = net.head.num_classes
    votes = last.reshape(T, n, classes, 10).mean(-1)
    return ConsumerRun(votes, spikes)
