"""Cross-check hwsim against SANA-FE: run the same NIR network, mapped the same way, on both.

SANA-FE (SLAM-Lab, UT Austin / Sandia; `pip install sanafe`) is an event-driven simulator of
neuromorphic chips that a neuromorphic engineer would otherwise use. hwsim's analytic model stays
the engine the search calls; this module is the cross-check::

    cmp = compare(graph, "loihi-sanafe", inputs)      # -> Comparison
    cmp.ratios()   # hwsim / SANA-FE: dynamic energy and time per timestep

How the two are made comparable:
- network: every spiking NIR node becomes a SANA-FE neuron group (Loihi LIF soma) with the graph's
  real weights (dense: non-zero weights only, as hwsim's mask; conv and pooling: every kernel tap,
  as hwsim's geometry), biases and time constants (forward Euler at `metadata["dt"]`);
- mapping: hwsim's own partition and placement; piece q of layer L goes to the SANA-FE core with
  the same (tile, core) index, hwsim router (row, col) being SANA-FE tile `col * rows + row`;
- input: the host is a core on tile 0 (hwsim injects host spikes at router 0) holding one SANA-FE
  `input` soma unit per input neuron, driven by the given spike raster;
- activity: hwsim is then run on the per-neuron spike counts SANA-FE produced, so both see the
  same spikes; a second SANA-FE run is made if that activity changes hwsim's placement.

SANA-FE is GPL-3.0. It is an optional extra (`pip install 'autosnn[sanafe]'`) imported only here,
lazily, so the rest of hwsim (and autosnn) neither needs nor links it.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import nir
import numpy as np
import yaml

from hwsim.activity import Activity
from hwsim.chip import ChipSpec, load_chip
from hwsim.errors import HwsimInputError
from hwsim.estimate import CostRecord, estimate
from hwsim.mapping import partition
from hwsim.network import Network, Projection, network_from_nir

INSTALL_HINT = "pip install 'autosnn[sanafe]'"
SANAFE_LOIHI = "sanafe-loihi"  # arch name: SANA-FE's own Loihi file, as shipped with the package


class SanafeMissingError(RuntimeError):
    """SANA-FE is not installed; the message is the one line a user needs."""


def import_sanafe() -> Any:
    """Import SANA-FE on first use only (GPL-3.0 optional extra)."""
    try:
        import sanafe
    except ImportError:
        raise SanafeMissingError(
            f"the sanafe engine needs SANA-FE, an optional extra: {INSTALL_HINT}"
        ) from None
    return sanafe


# --- architecture -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchBinding:
    """A SANA-FE architecture description and the names of the units the engine maps onto."""

    name: str
    description: dict[str, Any] = field(repr=False)
    soma: str
    input_soma: str  # format string with the unit index, e.g. "loihi_inputs[{}]"
    inputs_per_core: int
    synapse: Mapping[str, str]  # projection kind ('dense', 'conv', 'identity') -> synapse unit
    rows: int
    cols: int
    cores_per_tile: int


def _figure(chip: ChipSpec, name: str, fallback: str | None = None) -> float:
    """A per-event figure of the profile; `fallback` (or 0) where the profile has no such term."""
    value = getattr(chip, name, None)
    if not value and fallback is not None:
        value = getattr(chip, fallback)
    return float(value or 0.0)


def _sync(chip: ChipSpec) -> dict[str, Any]:
    """SANA-FE's end-of-step sync: the profile's barrier table by tiles in use, else fixed."""
    table = getattr(chip, "latency_barrier_by_tiles_s", None)
    if table:
        return {"sync_model": "table", "latency_sync": {int(k): float(v) for k, v in table}}
    return {"sync_model": "fixed", "latency_sync": chip.latency_barrier_s}


def sanafe_arch(chip: ChipSpec) -> ArchBinding:
    """Translate an hwsim profile into a SANA-FE architecture with the same per-event figures.

    hwsim terms become SANA-FE units: dense / conv synaptic op -> the two synapse units'
    `energy_process_spike`; neuron update (every neuron, every step) -> soma `access_neuron`;
    state update -> soma `update_neuron`; spike fired -> soma `spike_out`; message sent ->
    axon-out; delivery (router + message-in) -> axon-in; link hop -> tile hop (all four
    directions); barrier (or its table by tiles) -> `latency_sync`. Static power and hwsim's
    per-route router latency have no SANA-FE counterpart; SANA-FE models no tick (`tick` steps).
    A board's chips tile into one SANA-FE mesh whose chip-to-chip links cost on-chip hops
    (SANA-FE has per-tile hop figures only).
    """
    rows, cols = system_mesh(chip)
    inputs = chip.neurons_per_core
    hop = {}
    for d in ("north", "east", "south", "west"):
        hop[f"energy_{d}_hop"] = chip.energy_hop_j
        hop[f"latency_{d}_hop"] = chip.latency_link_s
    zero_soma = {
        "energy_access_neuron": 0.0,
        "latency_access_neuron": 0.0,
        "energy_update_neuron": 0.0,
        "latency_update_neuron": 0.0,
        "energy_spike_out": 0.0,
        "latency_spike_out": 0.0,
    }
    core = {
        "name": f"core[0..{chip.cores_per_router - 1}]",
        "attributes": {
            "buffer_position": "soma",
            "buffer_inside_unit": False,
            "max_neurons_supported": chip.neurons_per_core,
        },
        "axon_in": [
            {
                "name": "axon_in",
                "attributes": {
                    "energy_message_in": chip.energy_router_j
                    + _figure(chip, "energy_message_in_j"),
                    "latency_message_in": _figure(chip, "latency_message_in_s"),
                },
            }
        ],
        "synapse": [
            {
                "name": "dense_synapse",
                "attributes": {
                    "model": "current_based",
                    "energy_process_spike": _figure(chip, "energy_synop_dense_j", "energy_synop_j"),
                    "latency_process_spike": _figure(
                        chip, "latency_synop_dense_s", "latency_synop_s"
                    ),
                },
            },
            {
                "name": "conv_synapse",
                "attributes": {
                    "model": "current_based",
                    "energy_process_spike": _figure(chip, "energy_synop_conv_j", "energy_synop_j"),
                    "latency_process_spike": _figure(
                        chip, "latency_synop_conv_s", "latency_synop_s"
                    ),
                },
            },
        ],
        "dendrite": [
            {
                "name": "dendrite",
                "attributes": {"model": "accumulator", "energy_update": 0.0, "latency_update": 0.0},
            }
        ],
        "soma": [
            {
                "name": "lif",
                "attributes": {
                    "model": "leaky_integrate_fire",
                    "energy_access_neuron": chip.energy_neuron_update_j,
                    "latency_access_neuron": chip.latency_neuron_update_s,
                    "energy_update_neuron": _figure(chip, "energy_neuron_state_update_j"),
                    "latency_update_neuron": _figure(chip, "latency_neuron_state_update_s"),
                    "energy_spike_out": _figure(chip, "energy_spike_j"),
                    "latency_spike_out": _figure(chip, "latency_spike_s"),
                },
            },
            {"name": f"inputs[0..{inputs - 1}]", "attributes": {"model": "input", **zero_soma}},
        ],
        "axon_out": [
            {
                "name": "axon_out",
                "attributes": {
                    "energy_message_out": _figure(chip, "energy_message_j"),
                    "latency_message_out": _figure(chip, "latency_message_s"),
                },
            }
        ],
    }
    description = {
        "architecture": {
            "name": f"hwsim_{chip.name}",
            "attributes": {
                "topology": "mesh",
                "width": cols,
                "height": rows,
                "link_buffer_size": 16,
                **_sync(chip),
            },
            "tile": [{"name": f"tile[0..{rows * cols - 1}]", "attributes": hop, "core": [core]}],
        }
    }
    return ArchBinding(
        name=f"{chip.name} (translated from {chip.path})",
        description=description,
        soma="lif",
        input_soma="inputs[{}]",
        inputs_per_core=inputs,
        synapse={"dense": "dense_synapse", "identity": "dense_synapse", "conv": "conv_synapse"},
        rows=rows,
        cols=cols,
        cores_per_tile=chip.cores_per_router,
    )


def system_mesh(chip: ChipSpec) -> tuple[int, int]:
    """(rows, cols) of routers over the whole system: a board's chips tile into one mesh."""
    return int(getattr(chip, "mesh_rows", chip.rows)), int(getattr(chip, "mesh_cols", chip.cols))


def core_position(chip: ChipSpec, core: int) -> tuple[int, int, int]:
    """(router row, router col, slot at the router) of hwsim core `core` in the system mesh."""
    _, cols = system_mesh(chip)
    if hasattr(chip, "router_of_core"):
        router = int(chip.router_of_core(np.array([core]))[0])
        slot = int(core) % chip.cores_per_chip % chip.cores_per_router
    else:
        router, slot = divmod(int(core), chip.cores_per_router)
    row, col = divmod(router, cols)
    return row, col, slot


def sanafe_loihi_arch(mesh: tuple[int, int] | None = None) -> ArchBinding:
    """SANA-FE's own Loihi architecture file, read from the installed package (not copied).

    `mesh` (rows, cols of tiles) widens it for a board of Loihi chips tiled into one mesh; SANA-FE
    has per-tile hop figures only, so links between chips cost what on-chip hops cost there.
    """
    sanafe = import_sanafe()
    path = Path(str(resources.files(sanafe.__name__).joinpath("examples", "loihi.yaml")))
    description = yaml.safe_load(path.read_text())
    attrs = description["architecture"]["attributes"]
    tile = description["architecture"]["tile"][0]
    name = f"SANA-FE Loihi ({path.name}, sanafe package)"
    if mesh is not None and mesh != (int(attrs["height"]), int(attrs["width"])):
        attrs["height"], attrs["width"] = mesh
        tile["name"] = f"{tile['name'].split('[')[0]}[0..{mesh[0] * mesh[1] - 1}]"
        name += f", tiled to {mesh[0]}x{mesh[1]} tiles"
    return ArchBinding(
        name=name,
        description=description,
        soma="loihi_lif",
        input_soma="loihi_inputs[{}]",
        inputs_per_core=1024,
        synapse={
            "dense": "loihi_dense_synapse",
            "identity": "loihi_dense_synapse",
            "conv": "loihi_conv_synapse",
        },
        rows=int(attrs["height"]),
        cols=int(attrs["width"]),
        cores_per_tile=len(range(*_name_range(tile["core"][0]["name"]))),
    )


def _name_range(name: str) -> tuple[int, int]:
    """'core[0..3]' -> (0, 4); a name without a range is one unit."""
    if "[" not in name:
        return (0, 1)
    lo, _, hi = name[name.index("[") + 1 : name.rindex("]")].partition("..")
    return (int(lo), int(hi or lo) + 1)


def resolve_arch(arch: str | ArchBinding | None, chip: ChipSpec) -> ArchBinding:
    """None: translate the hwsim profile; 'sanafe-loihi': SANA-FE's Loihi file."""
    if isinstance(arch, ArchBinding):
        return arch
    if arch is None or arch == "profile":
        return sanafe_arch(chip)
    if arch == SANAFE_LOIHI:
        return sanafe_loihi_arch(system_mesh(chip))
    raise ValueError(f"arch must be 'profile' or '{SANAFE_LOIHI}', got {arch!r}")


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send what SANA-FE prints to stderr meanwhile: through Python's sys.stdout (pybind) and
    straight to file descriptor 1 (C++)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@contextmanager
def _loaded_arch(binding: ArchBinding) -> Iterator[Any]:
    sanafe = import_sanafe()
    with tempfile.TemporaryDirectory(prefix="hwsim-sanafe-") as tmp:
        path = Path(tmp) / "arch.yaml"
        path.write_text(yaml.safe_dump(binding.description, sort_keys=False))
        yield sanafe.load_arch(str(path))


# --- network ------------------------------------------------------------------------------------


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


def _bias_of(proj: Projection, node: nir.NIRNode | None, size: int) -> np.ndarray:
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


# --- running ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SanafeResult:
    """What SANA-FE reports for one inference (T timesteps), and the spikes it produced."""

    arch: str
    timesteps: int
    energy_total_j: float
    energy_synapse_j: float
    energy_dendrite_j: float
    energy_soma_j: float
    energy_network_j: float
    time_s: float
    packets: int
    synaptic_events: int
    neurons_fired: int
    neurons_updated: int
    steps: dict[str, np.ndarray] = field(repr=False)  # (T, N) spikes per step, by layer (+input)
    core_of_layer: dict[str, np.ndarray] = field(repr=False)  # hwsim core per piece

    @property
    def counts(self) -> dict[str, np.ndarray]:
        """Per-neuron spikes summed over the T steps, by layer."""
        return {k: v.sum(axis=0) for k, v in self.steps.items()}

    @property
    def energy_per_timestep_j(self) -> float:
        return self.energy_total_j / self.timesteps

    @property
    def time_per_timestep_s(self) -> float:
        return self.time_s / self.timesteps

    def to_dict(self) -> dict[str, Any]:
        keys = [
            "arch",
            "timesteps",
            "energy_total_j",
            "energy_synapse_j",
            "energy_dendrite_j",
            "energy_soma_j",
            "energy_network_j",
            "time_s",
            "packets",
            "synaptic_events",
            "neurons_fired",
            "neurons_updated",
        ]
        out = {k: getattr(self, k) for k in keys}
        out["energy_per_timestep_j"] = self.energy_per_timestep_j
        out["time_per_timestep_s"] = self.time_per_timestep_s
        out["spikes"] = {k: float(v.sum()) for k, v in self.counts.items()}
        return out


def _graph_dt(graph: nir.NIRGraph) -> float:
    dt = (getattr(graph, "metadata", None) or {}).get("dt", 1e-4)
    try:
        dt = float(dt)
    except (TypeError, ValueError):
        raise HwsimInputError("<graph>", "metadata.dt", "a positive number") from None
    if not dt > 0 or not math.isfinite(dt):
        raise HwsimInputError("<graph>", "metadata.dt", "a positive number")
    return dt


def _host_cores(
    chip: ChipSpec,
    binding: ArchBinding,
    used: dict[int, int],
    units: dict[int, int],
    need: int,
) -> list[tuple[int, int]]:
    """(hwsim core, input neurons) for an input layer: router 0 first (hwsim's host port), free
    cores before shared ones, then outwards; a core holds `neurons_per_core` neurons and
    `inputs_per_core` input units at most (`used` / `units`: what each core holds already)."""

    def distance(core: int) -> int:
        row, col, _ = core_position(chip, core)
        return row + col

    capacity = chip.neurons_per_core
    order = sorted(range(chip.n_cores), key=lambda k: (distance(k), k in used, k))
    out = []
    for k in order:
        if need <= 0:
            break
        free = min(capacity - used.get(k, 0), binding.inputs_per_core - units.get(k, 0))
        if free > 0:
            out.append((k, min(free, need)))
            need -= min(free, need)
    if need > 0:
        raise ValueError("no room left on the chip for the input neurons")
    return out


def run_sanafe(
    graph: nir.NIRGraph,
    chip: ChipSpec | str,
    inputs: Mapping[str, np.ndarray],
    *,
    core_of_layer: Mapping[str, np.ndarray],
    arch: str | ArchBinding | None = None,
) -> SanafeResult:
    """Simulate `graph` on SANA-FE with each piece on the core hwsim placed it on.

    `inputs` maps each input node to a (T, N) spike raster; `core_of_layer` is hwsim's placement
    (`CostRecord.core_of_layer`, one core per piece of `partition(net, chip)`).
    """
    sanafe = import_sanafe()
    spec = chip if isinstance(chip, ChipSpec) else load_chip(chip)
    binding = resolve_arch(arch, spec)
    net = network_from_nir(graph)
    part = partition(net, spec)
    if part.reasons:
        raise ValueError("does not fit: " + "; ".join(part.reasons))
    if part.fused:
        raise ValueError("fused pooling (Speck-style profiles) has no SANA-FE counterpart")
    dt = _graph_dt(graph)
    T = {np.asarray(r).shape[0] for r in inputs.values()}
    if len(T) != 1:
        raise ValueError("every input raster needs the same number of timesteps")
    timesteps = T.pop()
    cpt = binding.cores_per_tile
    n_cores = spec.n_cores
    rows, cols = system_mesh(spec)
    if (rows, cols, spec.cores_per_router) != (binding.rows, binding.cols, cpt):
        raise ValueError(
            f"{spec.name}'s mesh {rows}x{cols}x{spec.cores_per_router} differs from "
            f"the SANA-FE architecture's {binding.rows}x{binding.cols}x{cpt} (rows x cols x cores)"
        )

    def tile_core(core: int) -> tuple[int, int]:
        row, col, slot = core_position(spec, core)
        return col * rows + row, slot  # SANA-FE: x = id // height, y = id % height

    used: dict[int, int] = {}
    piece_core: dict[str, np.ndarray] = {}
    for la in net.neuron_layers:
        cores = np.asarray(core_of_layer[la.name], dtype=np.int64)
        bounds = part.bounds(la.name)
        if cores.size != len(bounds) or (cores >= n_cores).any():
            raise ValueError(f"placement of {la.name} does not match the partition / chip")
        piece_core[la.name] = cores
        for core, (a, b) in zip(cores, bounds, strict=True):
            used[int(core)] = used.get(int(core), 0) + int(b - a)

    with _loaded_arch(binding) as loaded:
        tiles = loaded.tiles
        snn = sanafe.Network()
        groups: dict[str, Any] = {}
        gname = {la.name: f"g{i}" for i, la in enumerate(net.layers)}
        units: dict[int, int] = {}
        for la in net.layers:
            if la.kind != "input":
                continue
            raster = np.asarray(inputs[la.name], dtype=bool).reshape(timesteps, -1)
            if raster.shape[1] != la.size:
                raise ValueError(f"input {la.name}: {la.size} neurons, raster has {raster.shape}")
            group = snn.create_neuron_group(gname[la.name], la.size, log_spikes=True)
            i = 0
            for core, n in _host_cores(spec, binding, used, units, la.size):
                t, c = tile_core(core)
                for unit in range(units.get(core, 0), units.get(core, 0) + n):
                    # one input unit per neuron: a SANA-FE input unit holds one spike train
                    group[i].set_attributes(
                        soma_hw_name=binding.input_soma.format(unit),
                        model_attributes={"spikes": raster[:, i].tolist()},
                    )
                    group[i].map_to_core(tiles[t].cores[c])
                    i += 1
                used[core] = used.get(core, 0) + n
                units[core] = units.get(core, 0) + n
            groups[la.name] = group
        incoming: dict[str, list[Projection]] = {}
        unit_of: dict[str, str] = {}  # synapse unit new connections into each layer will use
        for p in net.projections:
            incoming.setdefault(p.dst, []).append(p)
        for la in net.neuron_layers:
            ins = incoming.get(la.name, [])
            params = neuron_params(graph.nodes[la.name], la.size, dt)
            bias = params.bias.copy()
            for p in ins:
                node = graph.nodes[p.via] if p.via else None
                bias += params.scale * _bias_of(p, node, la.size)
            per_neuron = {
                "threshold": params.threshold,
                "reset": params.reset,
                "leak_decay": params.leak_decay,
                "input_decay": params.input_decay,
                "bias": bias,
            }
            shared: dict[str, Any] = {"reset_mode": "hard"}
            for key in list(per_neuron):  # one group attribute where every neuron agrees
                if np.all(per_neuron[key] == per_neuron[key][0]):
                    shared[key] = float(per_neuron.pop(key)[0])
            group = snn.create_neuron_group(
                gname[la.name],
                la.size,
                model_attributes=shared,
                log_spikes=True,
                soma_hw_name=binding.soma,
                default_synapse_hw_name=binding.synapse[ins[0].kind if ins else "dense"],
            )
            bounds = part.bounds(la.name)
            for (a, b), core in zip(bounds, piece_core[la.name], strict=True):
                t, c = tile_core(core)
                target = tiles[t].cores[c]
                for j in range(int(a), int(b)):
                    if per_neuron:
                        group[j].set_attributes(
                            model_attributes={k: float(v[j]) for k, v in per_neuron.items()}
                        )
                    group[j].map_to_core(target)
            groups[la.name] = group
            unit_of[la.name] = binding.synapse[ins[0].kind if ins else "dense"]
        for p in net.projections:
            if p.dst not in groups or p.src not in groups:
                continue  # spikes to the host's output: no SANA-FE counterpart (see compare)
            node = graph.nodes[p.via] if p.via else None
            src, dst, w = projection_synapses(p, node)
            scale = neuron_params(graph.nodes[p.dst], net.layer(p.dst).size, dt).scale
            w = w * scale[dst]
            synapse_unit = binding.synapse[p.kind]
            if unit_of[p.dst] != synapse_unit:  # SANA-FE: a connection takes its target's default
                for j in range(len(groups[p.dst])):
                    groups[p.dst][j].set_attributes(default_synapse_hw_name=synapse_unit)
                unit_of[p.dst] = synapse_unit
            pairs = list(zip(src.tolist(), dst.tolist(), strict=True))
            groups[p.src].connect_neurons_sparse(groups[p.dst], {"w": w.tolist()}, pairs)
        hw = sanafe.SpikingChip(loaded)
        hw.load(snn)
        with _stdout_to_stderr():  # SANA-FE's C++ progress line would corrupt --json output
            res = hw.sim(timesteps, spike_trace=True, processing_threads=1)
    index = {v: k for k, v in gname.items()}
    steps = {la.name: np.zeros((timesteps, la.size)) for la in net.layers if la.kind != "output"}
    for t, fired in enumerate(res["spike_trace"]):
        for addr in fired:
            steps[index[addr.group_name]][t, addr.neuron_offset] += 1
    energy = res["energy"]
    return SanafeResult(
        arch=binding.name,
        timesteps=int(res["timesteps_executed"]),
        energy_total_j=float(energy["total"]),
        energy_synapse_j=float(energy["synapse"]),
        energy_dendrite_j=float(energy["dendrite"]),
        energy_soma_j=float(energy["soma"]),
        energy_network_j=float(energy["network"]),
        time_s=float(res["sim_time"]),
        packets=int(res["packets_sent"]),
        synaptic_events=int(res["spikes"]),
        neurons_fired=int(res["neurons_fired"]),
        neurons_updated=int(res["neurons_updated"]),
        steps=steps,
        core_of_layer={k: np.asarray(v) for k, v in piece_core.items()},
    )


# --- comparing ----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Comparison:
    """SANA-FE and hwsim on the same network, mapping and spike counts (per timestep figures)."""

    sanafe: SanafeResult
    hwsim: CostRecord
    host_messages: float  # hwsim messages to the host's output, which SANA-FE does not send

    def hwsim_dynamic_j(self) -> float:
        """hwsim's energy less its static term (SANA-FE models no static power)."""
        rec = self.hwsim
        dynamic = getattr(rec, "energy_dynamic_j", None)
        if dynamic is not None:
            return float(dynamic)
        return float(rec.energy_synops_j + rec.energy_neurons_j + (rec.energy_routing_j or 0.0))

    def ratios(self) -> dict[str, float]:
        """hwsim / SANA-FE: total and dynamic energy, time per timestep, messages, synaptic ops."""
        s, h = self.sanafe, self.hwsim
        total = h.energy_total_j if h.energy_total_j is not None else math.nan
        step = h.time_per_timestep_s if h.time_per_timestep_s is not None else math.nan
        messages = (h.messages or 0.0) - self.host_messages
        return {
            "energy_total": _ratio(total, s.energy_total_j),
            "energy_dynamic": _ratio(self.hwsim_dynamic_j(), s.energy_total_j),
            "time_per_timestep": _ratio(step, s.time_per_timestep_s),
            "messages": _ratio(messages, s.packets),
            "synops": _ratio(h.synops, s.synaptic_events),
        }

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(quantity, hwsim, SANA-FE, hwsim / SANA-FE) per timestep, for a printed table."""
        s, h, r = self.sanafe, self.hwsim, self.ratios()
        T = h.timesteps
        static = (h.energy_static_j or 0.0) / T
        return [
            (
                "energy, dynamic (J/step)",
                f"{self.hwsim_dynamic_j() / T:.4g}",
                f"{s.energy_per_timestep_j:.4g}",
                f"{r['energy_dynamic']:.3f}",
            ),
            ("energy, static (J/step)", f"{static:.4g}", "0 (not modelled)", ""),
            (
                "energy, total (J/step)",
                f"{(h.energy_total_j or 0.0) / T:.4g}",
                f"{s.energy_per_timestep_j:.4g}",
                f"{r['energy_total']:.3f}",
            ),
            (
                "time per timestep (s)",
                f"{h.time_per_timestep_s or 0.0:.4g}",
                f"{s.time_per_timestep_s:.4g}",
                f"{r['time_per_timestep']:.3f}",
            ),
            (
                "messages (to cores)",
                f"{(h.messages or 0.0) - self.host_messages:.6g}",
                str(s.packets),
                f"{r['messages']:.3f}",
            ),
            ("synaptic ops", f"{h.synops:.6g}", str(s.synaptic_events), f"{r['synops']:.3f}"),
        ]

    def to_dict(self) -> dict[str, Any]:
        h = self.hwsim
        T = h.timesteps
        return {
            "sanafe": self.sanafe.to_dict(),
            "hwsim": {
                "chip": h.chip,
                "energy_total_per_timestep_j": (h.energy_total_j or 0.0) / T,
                "energy_dynamic_per_timestep_j": self.hwsim_dynamic_j() / T,
                "energy_static_per_timestep_j": (h.energy_static_j or 0.0) / T,
                "energy_synops_j": h.energy_synops_j,
                "energy_neurons_j": h.energy_neurons_j,
                "energy_routing_j": h.energy_routing_j,
                "time_per_timestep_s": h.time_per_timestep_s,
                "messages": h.messages,
                "host_messages": self.host_messages,
                "synops": h.synops,
            },
            "ratio_hwsim_over_sanafe": self.ratios(),
        }


def compare_file(
    path: str | Path,
    chip: ChipSpec,
    activity: Activity,
    *,
    placement: str = "greedy",
    arch: str | ArchBinding | None = None,
) -> Comparison:
    """`hwsim estimate --engine sanafe`: read the NIR file (weights are needed, not only the
    structure hwsim keeps) and compare; input spikes come from the activity's input counts."""
    import_sanafe()  # the missing extra is the first thing to report
    try:
        graph = nir.read(str(path))
    except Exception as exc:  # h5py and nir raise many types; all mean "unreadable"
        reason = type(exc).__name__
        raise HwsimInputError(path, "file", f"a readable NIR (HDF5) graph ({reason})") from None
    return compare(graph, chip, activity, placement=placement, arch=arch)


def _ratio(a: float, b: float) -> float:
    """a / b, NaN where SANA-FE reports 0 (e.g. a profile whose latencies are all 0)."""
    return a / b if b else math.nan


def _host_messages(net: Network, counts: Mapping[str, np.ndarray]) -> float:
    """Spikes of layers that feed an Output node: hwsim sends each to the host once."""
    out = 0.0
    for src in {p.src for p in net.projections if net.layer(p.dst).kind == "output"}:
        if net.layer(src).kind == "neuron":
            out += float(np.asarray(counts[src]).sum())
    return out


def compare(
    graph: nir.NIRGraph,
    chip: ChipSpec | str,
    inputs: Mapping[str, np.ndarray] | Activity,
    *,
    arch: str | ArchBinding | None = None,
    placement: str = "greedy",
) -> Comparison:
    """Run SANA-FE, then hwsim on SANA-FE's spike counts, with hwsim's mapping in both.

    `inputs`: a (T, N) spike raster per input node, or an Activity whose input counts are spread
    into one (`input_raster`). `arch`: None translates `chip` into SANA-FE; 'sanafe-loihi' uses
    SANA-FE's own Loihi figures.
    """
    import_sanafe()
    if placement == "spread":
        raise ValueError(
            "placement 'spread' re-splits layers; the sanafe engine maps the plain partition"
        )
    spec = chip if isinstance(chip, ChipSpec) else load_chip(chip)
    net = network_from_nir(graph)
    if isinstance(inputs, Activity):
        inputs = input_raster(inputs, net)
    rasters = {k: np.asarray(v, dtype=bool) for k, v in inputs.items()}
    missing = [la.name for la in net.layers if la.kind == "input" and la.name not in rasters]
    if missing:
        raise ValueError(f"no input spikes given for {', '.join(missing)}")
    timesteps = next(iter(rasters.values())).shape[0]
    prior = Activity(
        {k: v.sum(axis=0).astype(np.float64) for k, v in rasters.items()},
        timesteps=timesteps,
        source="input raster; other layers at the default rate (first placement only)",
    )
    first = estimate(net, prior, spec, placement=placement)
    if not first.feasible:
        raise ValueError("does not fit: " + "; ".join(first.reasons))
    core_of = first.core_of_layer
    for _ in range(2):  # SANA-FE's spikes do not depend on placement: at most one rerun
        result = run_sanafe(graph, spec, rasters, core_of_layer=core_of, arch=arch)
        measured = Activity(
            {k: v.ravel() for k, v in result.steps.items()},  # per timestep, (T*N,)
            timesteps=timesteps,
            source="SANA-FE spike counts",
        )
        record = estimate(net, measured, spec, placement=placement)
        same = all(
            np.array_equal(record.core_of_layer[k], core_of[k]) for k in record.core_of_layer
        )
        if same:
            break
        core_of = record.core_of_layer
    return Comparison(result, record, _host_messages(net, result.counts))
