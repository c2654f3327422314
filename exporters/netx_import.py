"""lava-dl netx HDF5 -> NIR, and the netx file's own fixed-point dynamics in numpy.

netx (``lava.lib.dl.netx.hdf5.Network``) is the format Intel's Loihi 2 toolchain loads; lava and
lava-dl have no NIR bridge of their own. This module reads one (ours, from
:mod:`exporters.lava_export`, or lava-dl's, e.g. the PilotNet LIF network Intel measured on a
Loihi 2 chip) into:

- :class:`NetxNetwork`: the layers as netx defines them (integer weights, CUBA neuron fields),
  shapes in torch's (C, H, W) order;
- :func:`to_nir`: a NIR graph, so hwsim and every NIR consumer can read it;
- :func:`run_fixed_point`: Lava's bit-accurate CUBA-LIF arithmetic (``PyLifModelBitAcc``) with
  integer conv/dense synapses, to obtain a network's real per-layer, per-timestep activity
  without Lava (which does not install on Python 3.11 without shims).

File conventions (read from lava-dl's ``netx/hdf5.py``, checked against its ground truth):
group ``layer/0..n-1``, each with ``type`` (input, conv, flatten, dense) and ``shape`` stored as
(C, H, W) (netx reverses it to Lava's (W, H, C) = XYZ); conv ``weight`` in torch layout
(Cout, Cin, kh, kw), unflipped, with ``stride``/``padding``/``dilation`` in (H, W) order; dense
``weight`` (N_out, N_in) with its columns in torch's (C, H, W) flatten order (what our exporter
writes; on lava-dl's PilotNet the (W, H, C) order mismatches 336 of its ground-truth spikes,
(C, H, W) none); ``bias`` in weight units (Lava applies ``bias_exp = 6``); neuron ``iDecay``/``vDecay``
out of 4096, threshold ``vThMant`` in weight units (Lava shifts it by 6 bits too). A lava-dl input
layer is itself a population of neurons whose bias is ``weight * pixel + bias`` (``transform``).

NIR mapping (dt = 1 step, forward Euler, current updated before voltage as Loihi does; state in
weight units, i.e. Lava's integer state / 64): a CUBA neuron is ``CubaLIF`` with
``tau_syn = 4096 / iDecay``, ``w_in = 4096 / iDecay``, ``tau_mem = 4096 / vDecay``,
``r = 4096 / vDecay``, ``v_threshold = vThMant``, ``v_reset = 0``; with ``vDecay = 0`` (a pure
integrator) and ``iDecay = 4096`` it is ``IF`` with ``r = 1``. The per-neuron bias is the weight
node's bias (exact for ``iDecay = 4096``: the current is the step's input), else ``v_leak``.
The input layer becomes
``Input`` (the pixels) -> depthwise 1x1 ``Conv2d`` (the transform) -> its neurons. Grouped
convolutions are written dense with zero blocks (nir 1.0's type inference reads
``weight.shape[1]`` as the input channels); hwsim costs a channel-diagonal kernel as depthwise. Fixed-point
rounding (Lava's decays truncate towards zero) is not NIR's; :func:`run_fixed_point` has it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import nir
import numpy as np

from exporters.base import ExportError, dense_from_grouped, diagonal_kernel

DECAY_UNITY = 4096  # Lava's decay constants are fractions of 4096
STATE_SHIFT = 6  # Lava shifts activations, bias and threshold left by 6 bits
_MAX_UV = 1 << 23  # Loihi's 24-bit signed u/v state


@dataclass(frozen=True)
class NetxNeuron:
    """A netx CUBA (``CUBA`` or slayer's ``LOIHI``) neuron, fields as stored in the file."""

    i_decay: int
    v_decay: int
    vth_mant: int
    ref_delay: int = 1
    graded: bool = False


@dataclass
class NetxLayer:
    """One netx layer with neurons (input, conv or dense); shapes in (C, H, W) order."""

    name: str
    kind: str  # "input" | "conv" | "dense"
    shape: tuple[int, ...]
    neuron: NetxNeuron | None  # None: a plain input (our exporter's: spikes come from the host)
    weight: np.ndarray | None = None  # conv (Cout, Cin/g, kh, kw); dense (N_out, N_in), CHW
    bias: np.ndarray | None = None  # per output channel (conv) or neuron (dense), weight units
    in_shape: tuple[int, ...] = ()
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    transform: tuple[int, int] = (64, 0)  # input layer: bias = weight * pixel + bias

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class NetxNetwork:
    """A netx file's layers in order, and its ``simulation`` fields (``tSample``: steps/sample)."""

    path: str
    layers: list[NetxLayer] = field(default_factory=list)
    t_sample: int | None = None


def _err(path: str | Path, fieldname: str, expected: str) -> ExportError:
    return ExportError(f"{path}: field {fieldname}: expected {expected}")


def _scalar(g: h5py.Group, key: str, path: str, default: int | None = None) -> int:
    if key not in g:
        if default is None:
            raise _err(path, f"{g.name}/{key}", "an integer (missing)")
        return default
    value = np.asarray(g[key][()])
    if value.size != 1 or not np.issubdtype(value.dtype, np.number):
        raise _err(path, f"{g.name}/{key}", "an integer")
    v = float(value.ravel()[0])
    if v != int(v):
        raise _err(path, f"{g.name}/{key}", f"an integer (got {v})")
    return int(v)


def _pair(g: h5py.Group, key: str, path: str, default: int) -> tuple[int, int]:
    if key not in g:
        return (default, default)
    arr = np.atleast_1d(np.asarray(g[key][()])).astype(int).ravel()
    if arr.size == 1:
        return (int(arr[0]), int(arr[0]))
    if arr.size != 2:
        raise _err(path, f"{g.name}/{key}", "an int or a pair of ints")
    return (int(arr[0]), int(arr[1]))


def _text(g: h5py.Group, key: str, path: str) -> str:
    if key not in g:
        raise _err(path, f"{g.name}/{key}", "a string (missing)")
    value = np.asarray(g[key][()]).ravel()
    raw = value[0] if value.size else b""
    return (raw.decode() if isinstance(raw, bytes) else str(raw)).strip()


def _integers(arr: np.ndarray, path: str, where: str) -> np.ndarray:
    a = np.asarray(arr, dtype=np.float64)
    if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
        raise _err(path, where, "integer values (netx stores fixed-point weights and biases)")
    return a.astype(np.int64)


def _neuron(g: h5py.Group, path: str) -> NetxNeuron | None:
    if "neuron" not in g:
        return None
    n = g["neuron"]
    kind = _text(n, "type", path)
    if kind not in ("CUBA", "LOIHI"):
        raise _err(path, f"{n.name}/type", f"CUBA or LOIHI (got {kind!r}; SDNN/RF not imported)")
    graded = bool(np.asarray(n["gradedSpike"][()]).ravel()[0]) if "gradedSpike" in n else False
    neuron = NetxNeuron(
        _scalar(n, "iDecay", path), _scalar(n, "vDecay", path), _scalar(n, "vThMant", path),
        _scalar(n, "refDelay", path, 1), graded,
    )
    for key, value in (("iDecay", neuron.i_decay), ("vDecay", neuron.v_decay)):
        if not 0 <= value <= DECAY_UNITY:
            raise _err(path, f"{n.name}/{key}", f"0..{DECAY_UNITY} (got {value})")
    return neuron


def _chw(g: h5py.Group, path: str) -> tuple[int, ...]:
    if "shape" not in g:
        raise _err(path, f"{g.name}/shape", "the layer's shape (missing)")
    shape = tuple(int(v) for v in np.atleast_1d(np.asarray(g["shape"][()])).ravel())
    if not shape or any(s <= 0 for s in shape):
        raise _err(path, f"{g.name}/shape", f"positive sizes (got {shape})")
    return shape


def read_netx(path: str | Path) -> NetxNetwork:
    """Read a netx HDF5 file into layers (one-line :class:`ExportError` naming file and field)."""
    path = str(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise _err(path, "file", f"a readable netx HDF5 file ({type(exc).__name__})") from None
    with f:
        if "layer" not in f:
            raise _err(path, "layer", "a group of layers 0..n-1 (missing)")
        top = f["layer"]
        keys = sorted(top.keys(), key=lambda k: int(k) if k.isdigit() else -1)
        if keys != [str(i) for i in range(len(keys))] or not keys:
            raise _err(path, "layer", f"groups named 0..n-1 (got {list(top.keys())[:5]})")
        net = NetxNetwork(path)
        if "simulation" in f and "tSample" in f["simulation"]:
            net.t_sample = _scalar(f["simulation"], "tSample", path)
        prev: tuple[int, ...] | None = None
        flat = False
        counts: dict[str, int] = {}
        for k in keys:
            g = top[k]
            kind = _text(g, "type", path)
            if kind == "flatten":
                flat = True
                continue
            if kind not in ("input", "conv", "dense"):
                raise _err(path, f"{g.name}/type",
                           f"input, conv, flatten or dense (got {kind!r}, netx has no other)")
            if kind != "input" and prev is None:
                raise _err(path, f"{g.name}/type", "an input layer first")
            if kind == "input" and prev is not None:
                raise _err(path, f"{g.name}/type", "one input layer, the first")
            shape = _chw(g, path)
            idx = counts.get(kind, 0)
            counts[kind] = idx + 1
            attr_name = g.attrs.get("name")  # our exporter names its layers; lava-dl's don't
            name = str(attr_name) if attr_name is not None else f"{kind}{idx}"
            layer = NetxLayer(name, kind, shape, _neuron(g, path), in_shape=prev or ())
            if kind == "input":
                if layer.neuron is not None:
                    w = _scalar(g, "weight", path, 64)
                    b = _scalar(g, "bias", path, 0)
                    layer.transform = (w, b)
            elif kind == "conv":
                _read_conv(g, layer, prev or (), path)
            else:
                _read_dense(g, layer, prev or (), flat, path)
            if kind != "input" and layer.neuron is None:
                # netx's default for a dense layer without neurons: a non-leaky integrator
                layer.neuron = NetxNeuron(0, DECAY_UNITY, (1 << 17) - 1)
            net.layers.append(layer)
            prev = layer.shape
            flat = False
        return net


def _read_conv(g: h5py.Group, layer: NetxLayer, prev: tuple[int, ...], path: str) -> None:
    if "weight" not in g:
        raise _err(path, f"{g.name}/weight", "conv weights (missing)")
    w = _integers(g["weight"][()], path, f"{g.name}/weight")
    if w.ndim == 5:  # slayer may keep a trailing time axis of 1
        w = w.reshape(w.shape[:4])
    layer.stride = _pair(g, "stride", path, 1)
    layer.padding = _pair(g, "padding", path, 0)
    layer.dilation = _pair(g, "dilation", path, 1)
    layer.groups = _scalar(g, "groups", path, 1)
    if len(prev) != 3 or w.ndim != 4 or w.shape[1] * layer.groups != prev[0]:
        raise _err(path, f"{g.name}/weight",
                   f"(Cout, Cin/groups, kh, kw) with Cin = {prev[0] if prev else '?'} "
                   f"(got {w.shape})")
    c, h, wd = prev
    oh = (h + 2 * layer.padding[0] - layer.dilation[0] * (w.shape[2] - 1) - 1) // layer.stride[0]
    ow = (wd + 2 * layer.padding[1] - layer.dilation[1] * (w.shape[3] - 1) - 1) // layer.stride[1]
    if layer.shape != (w.shape[0], oh + 1, ow + 1):
        raise _err(path, f"{g.name}/shape",
                   f"{(w.shape[0], oh + 1, ow + 1)} from the conv geometry (got {layer.shape})")
    layer.weight = w
    layer.bias = _bias(g, w.shape[0], path)


def _read_dense(g: h5py.Group, layer: NetxLayer, prev: tuple[int, ...], flat: bool,
                path: str) -> None:
    if "weight" not in g:
        raise _err(path, f"{g.name}/weight", "dense weights (missing)")
    n_out, n_in = layer.size, int(np.prod(prev))
    w = _integers(g["weight"][()], path, f"{g.name}/weight").reshape(n_out, -1)
    if w.shape[1] != n_in:
        raise _err(path, f"{g.name}/weight", f"({n_out}, {n_in}) (got {w.shape})")
    if len(prev) == 3 and not flat and int(np.prod(prev[1:])) > 1:
        raise _err(path, f"{g.name}/type", "a flatten layer before a dense one after a conv")
    layer.shape = (n_out,)
    layer.weight = w  # columns already in (C, H, W) flatten order (module docstring)
    layer.bias = _bias(g, n_out, path)


def _bias(g: h5py.Group, n: int, path: str) -> np.ndarray | None:
    if "bias" not in g:
        return None
    b = _integers(np.atleast_1d(g["bias"][()]), path, f"{g.name}/bias").ravel()
    if b.size == 1:
        b = np.full(n, int(b[0]), dtype=np.int64)
    if b.size != n:
        raise _err(path, f"{g.name}/bias", f"{n} values (got {b.size})")
    return b


# -- NIR ------------------------------------------------------------------------------------------


def _neuron_node(layer: NetxLayer, path: str) -> tuple[nir.NIRNode, bool]:
    """(NIR neuron node, whether the bias belongs in the weight node) for one layer."""
    n = layer.neuron
    assert n is not None
    shape = layer.shape
    full = np.ones(shape, dtype=np.float64)
    if n.graded:
        raise _err(path, f"layer {layer.name}/neuron/gradedSpike", "binary spikes (NIR has none)")
    if n.v_decay == 0:
        if n.i_decay != DECAY_UNITY:
            raise _err(path, f"layer {layer.name}/neuron/iDecay",
                       f"{DECAY_UNITY} when vDecay is 0 (a leaky current into a perfect "
                       "integrator has no NIR node)")
        return nir.IF(r=full, v_threshold=full * n.vth_mant, v_reset=0 * full), True
    if n.i_decay == 0:
        raise _err(path, f"layer {layer.name}/neuron/iDecay", "1..4096 (0: the current never decays)")
    tau_syn = DECAY_UNITY / n.i_decay
    tau_mem = DECAY_UNITY / n.v_decay
    bias_in_weights = n.i_decay == DECAY_UNITY
    v_leak = 0 * full
    if not bias_in_weights and layer.bias is not None:
        per = layer.bias.reshape((-1,) + (1,) * (len(shape) - 1)) if len(shape) > 1 else layer.bias
        v_leak = np.broadcast_to(per * tau_mem, shape).astype(np.float64)
    node = nir.CubaLIF(
        tau_syn=full * tau_syn, tau_mem=full * tau_mem, r=full * tau_mem, v_leak=v_leak,
        v_threshold=full * n.vth_mant, v_reset=0 * full, w_in=full * tau_syn,
    )
    return node, bias_in_weights


def to_nir(net: NetxNetwork) -> nir.NIRGraph:
    """The NIR graph of a netx network (mapping in the module docstring).

    Node names: ``input`` (host; the input layer is ``input0`` unless the file names it), its
    transform ``<name>.transform`` and neurons ``<name>`` when it has neurons, then per layer ``<name>.conv``/``<name>.dense`` and ``<name>`` (its neurons),
    ``<name>.flatten`` before the first dense layer after a conv, and ``output``. Metadata: ``T``
    (the file's ``tSample``, when present), ``dt = 1`` and the unit conventions.
    """
    nodes: dict[str, nir.NIRNode] = {}
    edges: list[tuple[str, str]] = []
    first = net.layers[0]
    nodes["input"] = nir.Input(input_type={"input": np.array(first.shape)})
    prev = "input"
    for layer in net.layers:
        if layer.kind == "input":
            if layer.neuron is None:
                continue  # the host sends the spikes: nothing on the chip
            c = layer.shape[0]
            w, b = layer.transform
            if len(layer.shape) != 3:
                raise _err(net.path, f"layer {layer.name}/shape", "(C, H, W) for an input layer")
            nodes[f"{layer.name}.transform"] = nir.Conv2d(  # depthwise, written dense (below)
                input_shape=layer.shape[1:], weight=diagonal_kernel(c, 1, float(w)), stride=1,
                padding=0, dilation=1, groups=1, bias=np.full(c, float(b)),
            )
            node, _ = _neuron_node(layer, net.path)
            nodes[layer.name] = node
            edges += [(prev, f"{layer.name}.transform"), (f"{layer.name}.transform", layer.name)]
            prev = layer.name
            continue
        node, bias_here = _neuron_node(layer, net.path)
        bias = layer.bias.astype(np.float64) if (layer.bias is not None and bias_here) else None
        assert layer.weight is not None
        if layer.kind == "conv":
            wname = f"{layer.name}.conv"
            # grouped kernels written dense with zero blocks: nir 1.0's type inference takes
            # weight.shape[1] as the input channels (what autosnn's portable NIR does too)
            nodes[wname] = nir.Conv2d(
                input_shape=layer.in_shape[1:],
                weight=dense_from_grouped(layer.weight.astype(np.float64), layer.groups),
                stride=layer.stride, padding=layer.padding, dilation=layer.dilation, groups=1,
                bias=bias if bias is not None else np.zeros(layer.weight.shape[0]),
            )
        else:
            if len(layer.in_shape) > 1:
                fname = f"{layer.name}.flatten"
                nodes[fname] = nir.Flatten(input_type={"input": np.array(layer.in_shape)},
                                           start_dim=0, end_dim=-1)
                edges.append((prev, fname))
                prev = fname
            wname = f"{layer.name}.dense"
            dense = layer.weight.astype(np.float64)
            nodes[wname] = (nir.Affine(weight=dense, bias=bias) if bias is not None
                            else nir.Linear(weight=dense))
        nodes[layer.name] = node
        edges += [(prev, wname), (wname, layer.name)]
        prev = layer.name
    nodes["output"] = nir.Output(output_type={"output": np.array(net.layers[-1].shape)})
    edges.append((prev, "output"))
    meta: dict[str, object] = {
        "producer": "autosnn.exporters.netx_import",
        "source": str(Path(net.path).name),
        "dt": 1.0,
        "units": "weights, bias, threshold and state in netx weight units (Lava's integer "
                 "state / 64); one step = dt = 1; Euler with the current updated first",
    }
    if net.t_sample is not None:
        meta["T"] = net.t_sample
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def netx_to_nir(path: str | Path) -> nir.NIRGraph:
    """Read a netx HDF5 file and return its NIR graph."""
    return to_nir(read_netx(path))
