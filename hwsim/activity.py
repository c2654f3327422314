"""Spike activity: measured per-neuron counts (`act.npz`) or a stated firing-rate assumption.

`act.npz` holds one array per NIR node name (spiking nodes and the `input` node) with per-sample
spike counts, either per timestep (shape [T, *neuron_shape], what `autosnn eval --activity` writes)
or summed over the T timesteps (shape [*neuron_shape], the older format, spread evenly over T),
plus the integer scalars `T` and `samples`. The two are told apart by size (T*N vs N), so a
reader needs no flag, and per-timestep files let the cost model see the busiest step, not only
the mean.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hwsim.errors import HwsimInputError, require_regular_file
from hwsim.network import MAX_TIMESTEPS, Network

DEFAULT_RATE = 0.1  # spikes per neuron per timestep when nothing is measured
DEFAULT_TIMESTEPS = 8
# Sizes are bounded before allocating: the cost model holds a few float64 arrays of T x N per
# layer (spikes per step, messages, synaptic events). fitted: tracemalloc peak of `estimate`
# (greedy + spread) on a 2-conv + fc graph, 4.6 k-18 k neurons, T 8-400, loihi2, spinnaker2 and
# loihi2-kapoho-point: 43-95 bytes per neuron-timestep (more for small T: fixed costs), so 96.
BYTES_PER_NEURON_STEP = 96
MEMORY_BUDGET_BYTES = 4 << 30  # assumption: 4 GiB, what a laptop can give a cost model


@dataclass(frozen=True)
class Activity:
    """Per-sample spike counts over `timesteps` steps, by layer name (flat arrays).

    Layers missing from `counts` fire at `rate` spikes per neuron per timestep (the stated
    assumption); `source` says where the numbers come from, for the report.
    """

    counts: Mapping[str, np.ndarray] = field(default_factory=dict)
    timesteps: int = DEFAULT_TIMESTEPS
    samples: int = 1
    rate: float = DEFAULT_RATE
    source: str = "assumed"

    def __post_init__(self) -> None:
        if not 0 < self.timesteps <= MAX_TIMESTEPS:  # T x neurons arrays are allocated
            raise ValueError(f"timesteps must be in 1..{MAX_TIMESTEPS}, got {self.timesteps}")
        if not 0 <= self.rate <= 1:
            raise ValueError(f"rate must be in [0, 1] spikes per neuron per step, got {self.rate}")

    def steps_for(self, name: str, size: int) -> tuple[np.ndarray, bool]:
        """(counts per timestep (T, size), measured?) for a layer.

        A per-timestep array is used as is; a summed one is spread evenly over the T steps (the
        old format carries no timing); an unmeasured layer fires `rate` every step.
        """
        T = self.timesteps
        if name in self.counts:
            arr = np.asarray(self.counts[name], dtype=np.float64).ravel()
            if arr.size == size * T:
                return arr.reshape(T, size), True
            if arr.size == size:
                return np.broadcast_to(arr / T, (T, size)), True
            raise HwsimInputError(
                self.source,
                name,
                f"{size} per-neuron counts, or {T}x{size} per timestep (got {arr.size})",
            )
        return np.full((T, size), self.rate), False

    def counts_for(self, name: str, size: int) -> tuple[np.ndarray, bool]:
        """(flat counts summed over T, measured?) for a layer; falls back to the rate assumption."""
        steps, measured = self.steps_for(name, size)
        return steps.sum(axis=0), measured


def uniform_activity(rate: float = DEFAULT_RATE, timesteps: int = DEFAULT_TIMESTEPS) -> Activity:
    """No measurement: every neuron (and input) fires `rate` spikes per timestep."""
    return Activity({}, timesteps=timesteps, rate=rate, source=f"assumed rate {rate:g}/step")


def footprint_bytes(network: Network, timesteps: int) -> int:
    """About how many bytes costing `network` over `timesteps` steps allocates at its peak:
    `BYTES_PER_NEURON_STEP` per neuron and timestep (fitted, see above) plus one byte per
    entry of each dense projection's connectivity mask."""
    neurons = sum(la.size for la in network.layers)
    masks = sum(p.mask.size for p in network.projections if p.mask is not None)
    return BYTES_PER_NEURON_STEP * timesteps * neurons + masks


def check_footprint(network: Network, timesteps: int, where: str) -> None:
    """Refuse, with the figure, a graph whose costing would need more than
    `MEMORY_BUDGET_BYTES` (T = 1e6 on a large graph would otherwise be a MemoryError after
    minutes of swapping, or the machine's memory gone)."""
    need = footprint_bytes(network, timesteps)
    if need > MEMORY_BUDGET_BYTES:
        neurons = sum(la.size for la in network.layers)
        raise HwsimInputError(
            where,
            "T x neurons",
            f"at most {MEMORY_BUDGET_BYTES / 2**30:.0f} GiB to cost (T = {timesteps} x "
            f"{neurons} neurons needs about {need / 2**30:.3g} GiB); use a smaller T or network",
        )


# Samples an activity file may average over, and events one neuron (or input pixel) may send
# per timestep and sample: bounds the per-neuron counts below.
MAX_SAMPLES = 10**9
EVENTS_PER_STEP_MAX = 1 << 16


def _scalar(data: Mapping[str, np.ndarray], key: str, path: str) -> int:
    if key not in data:
        raise HwsimInputError(path, key, "a positive integer scalar (missing)")
    value = np.asarray(data[key])
    real = np.issubdtype(value.dtype, np.integer) or np.issubdtype(value.dtype, np.floating)
    # non-finite or complex values would crash int() below instead of being reported
    if value.size != 1 or not real or not np.isfinite(value.item()) or value.item() <= 0:
        raise HwsimInputError(path, key, "a positive integer scalar")
    if float(value.item()) != int(value.item()):
        raise HwsimInputError(path, key, "a positive integer scalar")
    most = {"T": MAX_TIMESTEPS, "samples": MAX_SAMPLES}[key]
    if value.item() > most:
        raise HwsimInputError(path, key, f"a positive integer scalar, at most {most}")
    return int(value.item())


def _read_npz(path: str) -> dict[str, np.ndarray]:
    """The arrays of an `.npz` archive, refused before reading when it is another kind of
    file (a `.npy` array would be read whole, a pickle is never loaded) or its arrays hold more
    than the memory budget."""
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as exc:
        raise HwsimInputError(path, "file", f"a readable .npz ({exc.strerror})") from None
    if not magic.startswith(b"PK"):  # every zip archive starts so; .npy starts b"\x93NUMPY"
        kind = "a .npy array" if magic == b"\x93NUMPY" else "not a zip archive"
        raise HwsimInputError(path, "file", f"an .npz archive of named arrays ({kind})")
    try:
        with np.load(path, allow_pickle=False) as npz:
            size = sum(info.file_size for info in npz.zip.infolist())
            if size > MEMORY_BUDGET_BYTES:
                raise HwsimInputError(path, "file", f"arrays under {MEMORY_BUDGET_BYTES >> 30} "
                                      f"GiB (holds {size} bytes)")
            return {k: npz[k] for k in npz.files}
    except HwsimInputError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise HwsimInputError(path, "file", f"a readable .npz ({type(exc).__name__})") from None


def load_activity(
    path: str | Path, network: Network | None = None, rate: float = DEFAULT_RATE
) -> Activity:
    """Read `act.npz`; with a network, every key must name one of its nodes and its T must match
    the T stored in the graph's metadata (a T=4 network costed as T=8 is a silent 2x error)."""
    path = str(path)
    require_regular_file(path)
    data = _read_npz(path)
    timesteps = _scalar(data, "T", path)
    samples = _scalar(data, "samples", path)
    if network is not None and network.timesteps is not None and network.timesteps != timesteps:
        raise HwsimInputError(
            path, "T", f"{network.timesteps}, the T in the graph's metadata (file has {timesteps})"
        )
    counts: dict[str, np.ndarray] = {}
    names = {la.name: la for la in network.layers} if network is not None else None
    for key, value in data.items():
        if key in ("T", "samples"):
            continue
        real = np.issubdtype(value.dtype, np.integer) or np.issubdtype(value.dtype, np.floating)
        if not real or value.ndim == 0:  # complex counts would lose their imaginary part
            raise HwsimInputError(path, key, "a real numeric array of per-neuron spike counts")
        if not np.all(np.isfinite(value)) or np.any(value < 0):
            raise HwsimInputError(path, key, "finite, non-negative spike counts")
        # a neuron sends at most a few events per timestep and sample (an event camera's pixel
        # a few in one time bin), whatever the layout; EVENTS_PER_STEP_MAX allows far more, and
        # stops counts like 1e308 that overflow the placement's costs to inf
        most = samples * timesteps * EVENTS_PER_STEP_MAX
        if np.any(value > most):
            raise HwsimInputError(path, key, f"spike counts of at most samples x T x "
                                  f"{EVENTS_PER_STEP_MAX} = {most} per neuron "
                                  f"(got {value.max():.4g})")
        if names is not None:
            if key not in names:
                raise HwsimInputError(path, key, "the name of a spiking or input node of the graph")
            size = names[key].size
            if value.size not in (size, size * timesteps):
                raise HwsimInputError(
                    path,
                    key,
                    f"{size} counts of shape {names[key].shape} or {timesteps}x{size} per "
                    f"timestep [T, *{names[key].shape}] (got {value.shape})",
                )
        counts[key] = value.astype(np.float64).ravel()
    return Activity(counts, timesteps=timesteps, samples=samples, rate=rate, source=path)
