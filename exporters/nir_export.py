"""autosnn ``SpikingNet`` -> NIR 1.0 graph (BatchNorm folded, PLIF as LIF under forward Euler).

Discretisation (stored in ``graph.metadata``): forward Euler with step ``dt`` (default 1e-4 s,
the snnTorch / spikingjelly default). A PLIF layer with ``k = sigmoid(w)`` becomes

    nir.LIF(tau = dt / k, r = 1, v_leak = 0, v_threshold = 1, v_reset = 0)

and Euler ``v += dt/tau * (v_leak - v + r*I)`` is then ``v + (I - v) * k``: our update exactly.
NIR fires on ``v > v_threshold`` (strict), our PLIF on ``>=``; they differ only when a membrane
value lands exactly on 1.0.

The graph comes from the one lowering walk (:mod:`autosnn.core.lowering`: each block and layer
registers its own lowering by class); this module only turns the lowered primitives into NIR
nodes. Node names are the autosnn module names (per-neuron activity keys match), the input node is
``input``. See the lowerings for the mapping (BN folded into convs, residual adds as several edges
into one LIF, max-pool on spikes as sum-pool + "any spike", spike-count pooling as sum-pool, the
factorised reduce as one 2x2 stride-2 conv, voting as a fixed ``Linear``).

``compat`` restricts the primitives to what a consumer implements (same function):

- ``portable`` (the default of a file export): only ``Conv2d``, ``Linear``/``Affine``,
  ``Flatten``, ``LIF`` and ``IF`` (every pooling a fixed diagonal conv, grouped convs dense, "any
  spike" as ``IF(r=1/dt, v_threshold=0.5)``): spikingjelly's ``import_from_nir``, norse (through
  a topological loader, see :mod:`exporters.interop`) and our executor all load it.
- ``strict``: ``SumPool2d``, ``Threshold`` and grouped convs, and ``v_threshold`` the float32 just
  below 1, so a strict-threshold consumer fires exactly at autosnn's ``H >= 1``.
- ``nir``: as strict with ``v_threshold = 1`` (the in-memory default, what hwsim costs).
- ``norse``: ``SumPool2d`` + ``IF``; ``spikingjelly``: as portable.

``graph.metadata`` records T, dt, the threshold/reset conventions, the input shape and encoding,
the preprocessing (dataset, class names, pixel scale, padding, mean/std), the space, genotype and
the autosnn version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nir
import numpy as np
import torch
from torch import Tensor, nn

from autosnn.core.lowering import LoweringError, Signal, lower_network
from autosnn.core.network import SpikingNet
from autosnn.core.neuron import PLIF, V_TH
from exporters.base import (
    ExportError,
    dense_from_grouped,
    diagonal_kernel,
    layer_error,
)
from safeio import atomic_path

DEFAULT_DT = 1e-4
# The float32 number just below 1: with it, NIR's strict ``v > th`` equals autosnn's ``H >= 1`` for
# every float32 membrane value (nothing lies between the two).
GEQ_THRESHOLD = float(np.nextafter(np.float32(1.0), np.float32(0.0)))
COMPAT = ("portable", "strict", "nir", "norse", "spikingjelly")
DEFAULT_COMPAT = "portable"  # what a file export writes unless told otherwise
TARGET = "NIR"
FORMAT_VERSION = "autosnn-nir/2"


def _np(a: Tensor | np.ndarray) -> np.ndarray:
    return (a.detach().cpu().numpy() if isinstance(a, Tensor) else np.asarray(a)).astype(
        np.float32
    )


@dataclass
class NirBuilder:
    """:class:`~autosnn.core.lowering.Lowerer` writing NIR nodes, restricted by ``compat``:

    - ``portable``: only Conv2d, Linear/Affine, Flatten, LIF and IF (pools as fixed diagonal convs,
      grouped convs dense, max-pool's "any spike" as IF): loads in norse and spikingjelly;
    - ``nir`` / ``strict``: SumPool2d, Threshold, grouped convs (``strict`` also writes the
      threshold as the float32 just below 1, so strict consumers fire exactly at ``H >= 1``);
    - ``norse``: SumPool2d + IF (no Threshold); ``spikingjelly``: as portable.
    """

    compat: str
    dt: float
    v_threshold: float = V_TH
    nodes: dict[str, nir.NIRNode] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)

    def _add(self, name: str, node: nir.NIRNode, srcs: Sequence[Signal]) -> None:
        if name in self.nodes:
            raise ExportError(f"duplicate NIR node name {name!r}")
        self.nodes[name] = node
        self.edges.extend((s.node, name) for s in srcs)

    @property
    def _plain_convs(self) -> bool:
        return self.compat in ("portable", "spikingjelly")

    def input(self, name: str, shape: tuple[int, ...]) -> Signal:
        self._add(name, nir.Input(input_type={"input": np.array(shape)}), [])
        return Signal(name, shape)

    def output(self, name: str, src: Signal) -> None:
        self._add(name, nir.Output(output_type={"output": np.array(src.shape)}), [src])

    def conv(self, name: str, src: Signal, weight: Tensor | np.ndarray, bias: Tensor | None,
             stride: int, padding: int, groups: int = 1, source: nn.Module | None = None
             ) -> Signal:
        w = _np(weight)
        if groups > 1 and self._plain_convs:
            w, groups = dense_from_grouped(w, groups), 1
        b = np.zeros(w.shape[0], np.float32) if bias is None else _np(bias)
        _, h, wd = src.shape
        node = nir.Conv2d(input_shape=(h, wd), weight=w, stride=(stride, stride),
                          padding=(padding, padding), dilation=(1, 1), groups=groups, bias=b)
        out = tuple(int(v) for v in node.output_type["output"])
        self._add(name, node, [src])
        return Signal(name, out)

    def sum_pool(self, name: str, src: Signal, k: int) -> Signal:
        c, h, w = src.shape
        if self._plain_convs:  # spikingjelly has no SumPool2d
            return self.conv(name, src, diagonal_kernel(c, k, 1.0), None, k, 0)
        out = (c, h // k, w // k)
        node = nir.SumPool2d(kernel_size=np.array([k, k]), stride=np.array([k, k]),
                             padding=np.array([0, 0]))
        node.input_type = {"input": np.array(src.shape)}
        node.output_type = {"output": np.array(out)}
        self._add(name, node, [src])
        return Signal(name, out)

    def neuron(self, name: str, srcs: Sequence[Signal], module: nn.Module) -> Signal:
        """PLIF ``k = sigmoid(w)`` -> LIF(tau = dt / k, r = 1, v_leak = 0, v_reset = 0); a neuron
        with a ``nir_node(shape, dt, v_threshold)`` method (Speck's IF) states its own node."""
        nir_node = getattr(module, "nir_node", None)
        if callable(nir_node) and len({s.shape for s in srcs}) == 1:
            self._add(name, nir_node(srcs[0].shape, self.dt, self.v_threshold), srcs)
            return Signal(name, srcs[0].shape)
        if not isinstance(module, PLIF):
            raise layer_error(name, TARGET, f"{type(module).__name__} is not a spiking neuron "
                              "(only PLIF maps to LIF)")
        shapes = {s.shape for s in srcs}
        if len(shapes) != 1:
            raise layer_error(name, TARGET, f"inputs of different shapes {sorted(shapes)}")
        shape = srcs[0].shape
        k = float(torch.sigmoid(module.w.detach().float()))  # the fp32 k PyTorch uses
        node = nir.LIF(
            tau=np.full(shape, self.dt / k, dtype=np.float64),
            r=np.ones(shape, dtype=np.float64),
            v_leak=np.zeros(shape, dtype=np.float64),
            v_threshold=np.full(shape, self.v_threshold, dtype=np.float64),
            v_reset=np.zeros(shape, dtype=np.float64),
        )
        self._add(name, node, srcs)
        return Signal(name, shape)

    def any_spike(self, name: str, src: Signal) -> Signal:
        """1 where the (non-negative integer) window sum is >= 1: exact under > and >=."""
        shape = src.shape
        if self.compat in ("nir", "strict"):
            node: nir.NIRNode = nir.Threshold(threshold=np.full(shape, 0.5, dtype=np.float64))
        else:  # v += dt * r * I = I, fires on 0.5, reset to 0: the same function, one step
            node = nir.IF(r=np.full(shape, 1.0 / self.dt, dtype=np.float64),
                          v_threshold=np.full(shape, 0.5, dtype=np.float64),
                          v_reset=np.zeros(shape, dtype=np.float64))
        self._add(name, node, [src])
        return Signal(name, shape)

    def flatten(self, name: str, src: Signal) -> Signal:
        node = nir.Flatten(input_type={"input": np.array(src.shape)}, start_dim=0, end_dim=-1)
        self._add(name, node, [src])
        return Signal(name, (int(np.prod(src.shape)),))

    def linear(self, name: str, src: Signal, weight: Tensor | np.ndarray,
               bias: Tensor | None, source: nn.Module | None = None) -> Signal:
        w = _np(weight)
        node = nir.Linear(weight=w) if bias is None else nir.Affine(weight=w, bias=_np(bias))
        self._add(name, node, [src])
        return Signal(name, (int(w.shape[0]),))


def graph_metadata(net: SpikingNet, *, compat: str, dt: float, geq: bool,
                   preprocess: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a consumer needs beside the weights: time (T, dt, discretisation, threshold and reset
    conventions), how to prepare inputs (``preprocess``: dataset, class names, encoding,
    normalisation), and what the network is (space, genotype, producer version)."""
    import autosnn

    cfg = net.config
    in_shape = [int(v) for v in cfg.input_shape]
    pre = dict(preprocess or {})
    meta: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "producer": "autosnn",
        "autosnn_version": str(autosnn.__version__),
        "T": int(cfg.timesteps),
        "dt": float(dt),
        "discretisation": "forward-euler",
        "threshold": ("v > v_threshold (NIR, strict); autosnn fires on >= "
                      + ("(v_threshold = float32 below 1: > equals >= 1)" if geq
                         else "(they differ only when v lands exactly on v_threshold)")),
        "reset": "hard reset to v_reset = 0",
        "compat": compat,
        "input_shape": in_shape,
        "input_encoding": pre.get("encoding") or (
            "events: one frame per step" if in_shape[0] == 2 else
            "static: the same (normalised) image presented at every step"),
        "output": "per-step votes (mean over T = class firing rates)",
        "kind": cfg.kind,
        "space": cfg.name if cfg.kind != "zoo" else "",
        "zoo": cfg.name if cfg.kind == "zoo" else "",
        "genotype": ",".join(net.genotype),
        "channels": int(cfg.channels),
        "classes": int(cfg.num_classes),
        "preprocess_known": bool(pre),
        "dataset": pre.get("dataset", ""),
        "class_names": list(pre.get("classes", [])),
        "mean": [float(v) for v in pre.get("mean", [])],
        "std": [float(v) for v in pre.get("std", [])],
        "pixel_scale": float(pre.get("scale", 0.0)),
        "pad": int(pre.get("pad", 0)),
        "preprocess": pre.get("recipe", "unknown: not recorded in the checkpoint"),
    }
    return meta


def to_nir(
    net: SpikingNet,
    *,
    compat: str = "nir",
    dt: float = DEFAULT_DT,
    geq_threshold: bool = False,
    preprocess: dict[str, Any] | None = None,
) -> nir.NIRGraph:
    """The NIR graph of ``net`` (its active path, eval-mode BN statistics folded), from the one
    lowering walk (:func:`autosnn.core.lowering.lower_network`).

    In memory the default is ``compat="nir"`` (SumPool2d and Threshold kept, what hwsim costs);
    a file export (:func:`export_nir`) defaults to ``portable``. ``geq_threshold`` (implied by
    ``strict``): ``v_threshold`` is the float32 just below 1, so strict consumers fire exactly
    when autosnn does (not for spikingjelly, which already fires at equality).
    """
    if compat not in COMPAT:
        raise ExportError(f"unknown NIR compat mode {compat!r}; choose from {', '.join(COMPAT)}")
    if not dt > 0:
        raise ExportError(f"dt must be > 0, got {dt}")
    geq = geq_threshold or compat == "strict"
    if geq and compat == "spikingjelly":
        raise ExportError("geq_threshold is for strict consumers; spikingjelly fires at equality")
    b = NirBuilder(compat, float(dt), GEQ_THRESHOLD if geq else V_TH)
    try:
        lower_network(b, net)
    except LoweringError as exc:
        raise ExportError(str(exc)) from None
    meta = graph_metadata(net, compat=compat, dt=dt, geq=geq, preprocess=preprocess)
    try:
        graph = nir.NIRGraph(nodes=b.nodes, edges=b.edges, metadata=meta, type_check=True)
    except Exception:  # NIR's shape inference is incomplete for pooling; our shapes are set
        graph = nir.NIRGraph(nodes=b.nodes, edges=b.edges, metadata=meta, type_check=False)
    return graph


def export_nir(
    net: SpikingNet,
    path: str | Path,
    *,
    compat: str = DEFAULT_COMPAT,
    dt: float = DEFAULT_DT,
    geq_threshold: bool = False,
    preprocess: dict[str, Any] | None = None,
    inputs: Sequence[str | Path] = (),
) -> Path:
    """Write the NIR graph of ``net`` to ``path`` (HDF5, through a temp file renamed into place;
    ``path`` may not be one of ``inputs``); returns the path."""
    graph = to_nir(net, compat=compat, dt=dt, geq_threshold=geq_threshold, preprocess=preprocess)
    with atomic_path(path, inputs=inputs) as tmp:
        nir.write(str(tmp), graph)
    return Path(path)


def read_nir(path: str | Path) -> nir.NIRGraph:
    """Read a ``.nir`` file; metadata strings decoded to ``str``."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such NIR file")
    graph = nir.read(str(path))
    graph.metadata = {k: _plain(v) for k, v in (graph.metadata or {}).items()}
    return graph


def _plain(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray):
        return [_plain(e) for e in v.tolist()] if v.ndim else _plain(v.item())
    if isinstance(v, list):
        return [_plain(e) for e in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def activity_to_nir_names(net: SpikingNet, activity: dict[str, Tensor]) -> dict[str, np.ndarray]:
    """``net.activity()`` (per-neuron spike counts per timestep per sample, ``(T, *shape)``) as
    float64 numpy arrays keyed by NIR node name: the LIF, Threshold and IF nodes carry the
    spiking module's name, and ``input`` is the graph's input node."""
    names = {name for name, _ in net.active_spiking_layers()} | {"input"}
    out = {}
    for key, value in activity.items():
        if key not in names:
            raise ExportError(f"activity key {key!r} is not a spiking layer on the active path")
        out[key] = value.detach().cpu().double().numpy()
    return out
