"""Spike activity: measured per-neuron counts (`act.npz`) or a stated firing-rate assumption.

`act.npz` holds one array per NIR node name with per-neuron spike counts summed over the T
timesteps and averaged per sample, plus the scalars `T` and `samples`.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hwsim.errors import HwsimInputError
from hwsim.network import Network

DEFAULT_RATE = 0.1  # spikes per neuron per timestep when nothing is measured
DEFAULT_TIMESTEPS = 8


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
        if self.timesteps <= 0:
            raise ValueError(f"timesteps must be positive, got {self.timesteps}")
        if not 0 <= self.rate <= 1:
            raise ValueError(f"rate must be in [0, 1] spikes per neuron per step, got {self.rate}")

    def counts_for(self, name: str, size: int) -> tuple[np.ndarray, bool]:
        """(flat counts, measured?) for a layer; falls back to the rate assumption."""
        if name in self.counts:
            arr = np.asarray(self.counts[name], dtype=np.float64).ravel()
            if arr.size != size:
                raise HwsimInputError(
                    self.source, name, f"{size} per-neuron counts (got {arr.size})"
                )
            return arr, True
        return np.full(size, self.rate * self.timesteps), False


def uniform_activity(rate: float = DEFAULT_RATE, timesteps: int = DEFAULT_TIMESTEPS) -> Activity:
    """No measurement: every neuron (and input) fires `rate` spikes per timestep."""
    return Activity({}, timesteps=timesteps, rate=rate, source=f"assumed rate {rate:g}/step")


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
    return int(value.item())


def load_activity(
    path: str | Path, network: Network | None = None, rate: float = DEFAULT_RATE
) -> Activity:
    """Read `act.npz`; with a network, every key must name one of its nodes."""
    path = str(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise HwsimInputError(path, "file", f"a readable .npz ({type(exc).__name__})") from None
    timesteps = _scalar(data, "T", path)
    samples = _scalar(data, "samples", path)
    counts: dict[str, np.ndarray] = {}
    names = {la.name: la for la in network.layers} if network is not None else None
    for key, value in data.items():
        if key in ("T", "samples"):
            continue
        if not np.issubdtype(value.dtype, np.number) or value.ndim == 0:
            raise HwsimInputError(path, key, "a numeric array of per-neuron spike counts")
        if not np.all(np.isfinite(value)) or np.any(value < 0):
            raise HwsimInputError(path, key, "finite, non-negative spike counts")
        if names is not None:
            if key not in names:
                raise HwsimInputError(path, key, "the name of a spiking or input node of the graph")
            if value.size != names[key].size:
                raise HwsimInputError(
                    path, key, f"{names[key].size} counts for shape {names[key].shape}"
                )
        counts[key] = value.astype(np.float64).ravel()
    return Activity(counts, timesteps=timesteps, samples=samples, rate=rate, source=path)
