"""Discrete-time NIR executor (our reference runner) and importer back to torch.

:class:`NIRModule` is a ``torch.nn.Module`` built from a NIR graph: every node becomes a small torch
op with its parameters as buffers, and :meth:`NIRModule.forward` steps the graph through time with
forward Euler at the graph's ``metadata["dt"]``:

- ``LIF``: ``v' = v + dt/tau * (v_leak - v + r*I)``; spike ``v' > v_threshold``; ``v = v_reset``
  where it spiked, else ``v'``.
- ``IF``: ``v' = v + dt * r * I``, same threshold and reset. ``LI``: as LIF without spikes.
- ``Threshold``: ``I > threshold``. ``Conv2d``, ``Linear``, ``Affine``, ``Scale``, ``Flatten``,
  ``SumPool2d``, ``AvgPool2d`` as their stateless definitions; a node sums all incoming edges.

``threshold="strict"`` is NIR's ``>``; ``"geq"`` fires at equality like autosnn's PLIF (and
spikingjelly). The batch dimension is the leading one of every tensor; NIR shapes exclude it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import nir
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from exporters.base import ExportError


def _t(a, dtype=torch.float32) -> Tensor:
    return torch.as_tensor(np.asarray(a), dtype=dtype)


def _pair(v) -> tuple[int, int]:
    a = np.asarray(v).reshape(-1).tolist()
    return (int(a[0]), int(a[0])) if len(a) == 1 else (int(a[0]), int(a[1]))


class _Node(nn.Module):
    stateful = False
    spiking = False

    def step(self, x: Tensor, state: Tensor | None) -> tuple[Tensor, Tensor | None]:
        return self.op(x), None

    def op(self, x: Tensor) -> Tensor:  # stateless nodes
        raise NotImplementedError


class _Conv(_Node):
    weight: Tensor  # buffers, declared so mypy does not see nn.Module.__getattr__'s union
    bias: Tensor | None

    def __init__(self, n: nir.Conv2d) -> None:
        super().__init__()
        self.register_buffer("weight", _t(n.weight))
        self.register_buffer("bias", _t(n.bias) if n.bias is not None else None)
        self.stride, self.padding = _pair(n.stride), _pair(n.padding)
        self.dilation, self.groups = _pair(n.dilation), int(np.asarray(n.groups))

    def op(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)


class _Linear(_Node):
    weight: Tensor  # buffers
    bias: Tensor | None

    def __init__(self, weight, bias=None) -> None:
        super().__init__()
        self.register_buffer("weight", _t(weight))
        self.register_buffer("bias", _t(bias) if bias is not None else None)

    def op(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)


class _Scale(_Node):
    scale: Tensor  # buffer

    def __init__(self, scale) -> None:
        super().__init__()
        self.register_buffer("scale", _t(scale))

    def op(self, x: Tensor) -> Tensor:
        return x * self.scale


class _Flatten(_Node):
    def __init__(self, n: nir.Flatten) -> None:
        super().__init__()
        self.start = n.start_dim + 1 if n.start_dim >= 0 else n.start_dim
        self.end = n.end_dim + 1 if n.end_dim >= 0 else n.end_dim

    def op(self, x: Tensor) -> Tensor:
        return x.flatten(self.start, self.end)


class _Pool(_Node):
    def __init__(self, n: nir.SumPool2d | nir.AvgPool2d, sum_pool: bool) -> None:
        super().__init__()
        self.k, self.s, self.p = _pair(n.kernel_size), _pair(n.stride), _pair(n.padding)
        self.sum_pool = sum_pool

    def op(self, x: Tensor) -> Tensor:
        if self.sum_pool:  # mean * window (exact for power-of-two windows; ONNX-exportable)
            avg = F.avg_pool2d(x, self.k, self.s, self.p, count_include_pad=True)
            return avg * float(self.k[0] * self.k[1])
        return F.avg_pool2d(x, self.k, self.s, self.p, count_include_pad=True)


class _Identity(_Node):
    def op(self, x: Tensor) -> Tensor:
        return x


class _Threshold(_Node):
    spiking = True
    threshold: Tensor  # buffer

    def __init__(self, threshold, geq: bool) -> None:
        super().__init__()
        self.register_buffer("threshold", _t(threshold))
        self.geq = geq

    def op(self, x: Tensor) -> Tensor:
        return (x >= self.threshold if self.geq else x > self.threshold).to(x.dtype)


class _Neuron(_Node):
    """LIF / IF / LI under forward Euler with step dt (parameters broadcast over the batch)."""

    stateful = True
    # buffers (IF: gain, v_th, v_reset; LIF/LI: k, r, v_leak, and v_th, v_reset for LIF)
    gain: Tensor
    k: Tensor
    r: Tensor
    v_leak: Tensor
    v_th: Tensor
    v_reset: Tensor
    last_potential: Tensor

    def __init__(self, n: nir.NIRNode, dt: float, geq: bool) -> None:
        super().__init__()
        self.kind = type(n).__name__
        self.geq = geq
        r = np.asarray(n.r, dtype=np.float64)
        if isinstance(n, nir.IF):
            self.register_buffer("gain", _t(dt * r))
            self.register_buffer("v_th", _t(n.v_threshold))
            self.register_buffer("v_reset", _t(n.v_reset))
            self.spiking = True
            return
        k = dt / np.asarray(n.tau, dtype=np.float64)  # dt/tau, computed in float64 then cast
        self.register_buffer("k", _t(k))
        self.register_buffer("r", _t(r))
        self.register_buffer("v_leak", _t(n.v_leak))
        self.unit_r = bool(np.all(r == 1.0))
        self.zero_leak = bool(np.all(np.asarray(n.v_leak) == 0.0))
        if isinstance(n, nir.LIF):
            self.register_buffer("v_th", _t(n.v_threshold))
            self.register_buffer("v_reset", _t(n.v_reset))
            self.spiking = True

    def step(self, x: Tensor, v: Tensor | None) -> tuple[Tensor, Tensor | None]:
        if v is None:
            v = torch.zeros_like(x)
        if self.kind == "IF":
            h = v + self.gain * x
        else:
            drive = x if self.unit_r else self.r * x
            leak = -v if self.zero_leak else self.v_leak - v
            h = v + (leak + drive) * self.k  # == v + (I - v) * k for r = 1, v_leak = 0
        if not self.spiking:
            return h, h
        self.last_potential = h  # pre-threshold membrane value, for diagnostics
        s = (h >= self.v_th) if self.geq else (h > self.v_th)
        v_new = torch.where(s, self.v_reset.expand_as(h), h)
        return s.to(h.dtype), v_new


@dataclass
class RunResult:
    """Output of :meth:`NIRModule.run`: per-step output (T, N, ...) and per-node spike counts."""

    output: Tensor
    spikes: dict[str, Tensor]  # node -> (T, N, *shape) binary spikes (only when record=True)
    potentials: dict[str, Tensor]  # neuron node -> (T, N, *shape) pre-threshold membrane value


class NIRModule(nn.Module):
    """A NIR graph as a torch module, run in discrete time (forward Euler, dt from metadata)."""

    def __init__(
        self, graph: nir.NIRGraph, *, dt: float | None = None, threshold: str = "strict"
    ) -> None:
        super().__init__()
        if threshold not in ("strict", "geq"):
            raise ValueError(f"threshold must be 'strict' or 'geq', got {threshold!r}")
        meta = graph.metadata or {}
        if dt is None:
            if "dt" not in meta:
                raise ExportError("the NIR graph has no metadata['dt']; pass dt explicitly")
            dt = float(np.asarray(meta["dt"]))
        self.dt = float(dt)
        geq = threshold == "geq"
        self.inputs: dict[str, list[str]] = defaultdict(list)
        for src, dst in graph.edges:
            self.inputs[dst].append(src)
        input_name: str | None = None
        output_name: str | None = None
        self.ops = nn.ModuleDict()
        self._keys: dict[str, str] = {}
        self.graph_shapes: dict[str, tuple[int, ...]] = {}  # neuron node -> state shape (no batch)
        for name, node in graph.nodes.items():
            key = name.replace(".", "__")
            self._keys[name] = key
            if isinstance(node, nir.Input):
                if input_name is not None:
                    raise ExportError("NIR executor: only graphs with one Input node are supported")
                input_name = name
                self.ops[key] = _Identity()
            elif isinstance(node, nir.Output):
                if output_name is not None:
                    raise ExportError("NIR executor: only graphs with one Output are supported")
                output_name = name
                self.ops[key] = _Identity()
            else:
                self.ops[key] = _make(name, node, self.dt, geq)
                if isinstance(node, (nir.LIF, nir.IF, nir.LI)):
                    self.graph_shapes[name] = tuple(np.asarray(node.r).shape)
        if input_name is None or output_name is None:
            raise ExportError("NIR executor: the graph needs an Input and an Output node")
        self.input_name: str = input_name
        self.output_name: str = output_name
        self.order = _topological(list(graph.nodes), graph.edges)

    @property
    def spiking_nodes(self) -> list[str]:
        return [n for n in self.order if self.ops[self._keys[n]].spiking]

    @property
    def stateful_nodes(self) -> list[str]:
        return [n for n in self.order if self.ops[self._keys[n]].stateful]

    def step(
        self, x: Tensor, state: Mapping[str, Tensor | None]
    ) -> tuple[Tensor, dict[str, Tensor], dict[str, Tensor]]:
        """One timestep: input x (N, ...) -> output, new state, every node's value."""
        values: dict[str, Tensor] = {}
        new_state: dict[str, Tensor] = {}  # only nodes that returned a state
        for name in self.order:
            if name == self.input_name:
                values[name] = x
                continue
            srcs = self.inputs[name]
            if not srcs:
                raise ExportError(f"NIR node {name!r} has no input edge")
            cur = values[srcs[0]]
            for s in srcs[1:]:
                cur = cur + values[s]
            op = cast(_Node, self.ops[self._keys[name]])  # ModuleDict is typed as Module
            out, st = op.step(cur, state.get(name))
            values[name] = out
            if st is not None:
                new_state[name] = st
        return values[self.output_name], new_state, values

    def run(self, x: Tensor, T: int | None = None, *, record: bool = False) -> RunResult:
        """Run T steps. ``x``: (N, ...) static (repeated each step, needs T) or (T, N, ...)."""
        if T is None:
            T = x.shape[0]
            frames = x
        else:
            frames = x.unsqueeze(0).expand(T, *x.shape)
        state: dict[str, Tensor] = {}
        outs = []
        rec: dict[str, list[Tensor]] = defaultdict(list)
        pot: dict[str, list[Tensor]] = defaultdict(list)
        spiking = self.spiking_nodes if record else []
        with torch.no_grad():
            for t in range(T):
                y, state, values = self.step(frames[t].float(), state)
                outs.append(y)
                for n in spiking:
                    rec[n].append(values[n])
                    op = self.ops[self._keys[n]]
                    if isinstance(op, _Neuron):
                        pot[n].append(op.last_potential)
        return RunResult(
            torch.stack(outs),
            {n: torch.stack(v) for n, v in rec.items()},
            {n: torch.stack(v) for n, v in pot.items()},
        )

    def forward(self, x: Tensor, T: int | None = None) -> Tensor:
        """Per-step outputs stacked (T, N, ...)."""
        return self.run(x, T).output


def _make(name: str, node: nir.NIRNode, dt: float, geq: bool) -> _Node:
    if isinstance(node, nir.Conv2d):
        return _Conv(node)
    if isinstance(node, nir.Affine):
        return _Linear(node.weight, node.bias)
    if isinstance(node, nir.Linear):
        return _Linear(node.weight)
    if isinstance(node, nir.Scale):
        return _Scale(node.scale)
    if isinstance(node, nir.Flatten):
        return _Flatten(node)
    if isinstance(node, nir.SumPool2d):
        return _Pool(node, True)
    if isinstance(node, nir.AvgPool2d):
        return _Pool(node, False)
    if isinstance(node, nir.Threshold):
        return _Threshold(node.threshold, geq)
    if isinstance(node, (nir.LIF, nir.IF, nir.LI)):
        return _Neuron(node, dt, geq)
    raise ExportError(f"NIR executor: node {name!r} of type {type(node).__name__} is not supported")


def _topological(names: list[str], edges: list[tuple[str, str]]) -> list[str]:
    indeg = {n: 0 for n in names}
    succ: dict[str, list[str]] = defaultdict(list)
    for s, d in edges:
        if s not in indeg or d not in indeg:
            raise ExportError(f"NIR edge {s!r} -> {d!r} names a missing node")
        indeg[d] += 1
        succ[s].append(d)
    ready = [n for n in names if indeg[n] == 0]
    order = []
    while ready:
        n = ready.pop(0)
        order.append(n)
        for d in succ[n]:
            indeg[d] -= 1
            if indeg[d] == 0:
                ready.append(d)
    if len(order) != len(names):
        raise ExportError("NIR executor: recurrent graphs (cycles) are not supported")
    return order


def from_nir(
    graph: nir.NIRGraph | str | Path, *, dt: float | None = None, threshold: str = "strict"
) -> NIRModule:
    """Import a NIR graph (or ``.nir`` file) back into torch as a :class:`NIRModule`."""
    if not isinstance(graph, nir.NIRGraph):
        from exporters.nir_export import read_nir

        graph = read_nir(graph)
    return NIRModule(graph, dt=dt, threshold=threshold)
