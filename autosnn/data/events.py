"""Event streams and their conversion to T frames.

An event is ``(x, y, t, p)``: pixel column, row, timestamp (microseconds, or any monotone unit)
and polarity (1 = ON, 0 = OFF). A recording becomes ``T`` frames of shape ``(2, H, W)``: the
span from its first to its last event (inclusive) is cut into ``T`` equal time bins and each frame
counts the events per polarity and pixel, so every recording fills all T timesteps whatever its
length. Counts saturate at 255 to keep uint8 storage (a whole event dataset stays in memory).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from autosnn.core.errors import DataError


@dataclass(frozen=True)
class Events:
    """One recording: parallel int64 arrays ``x, y, t`` and uint8 ``p`` in {0, 1}."""

    x: np.ndarray
    y: np.ndarray
    t: np.ndarray
    p: np.ndarray

    def __post_init__(self) -> None:
        n = self.x.shape[0]
        if not (self.y.shape[0] == self.t.shape[0] == self.p.shape[0] == n):
            raise ValueError("x, y, t, p must have the same length")

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @classmethod
    def of(cls, x: object, y: object, t: object, p: object) -> Events:
        """Build from any array-likes, normalising dtypes (polarity: nonzero -> 1)."""
        return cls(
            x=np.asarray(x, dtype=np.int64).reshape(-1),
            y=np.asarray(y, dtype=np.int64).reshape(-1),
            t=np.asarray(t, dtype=np.int64).reshape(-1),
            p=(np.asarray(p).reshape(-1) != 0).astype(np.uint8),
        )

    def check_bounds(self, width: int, height: int, path: Path | str, origin: str) -> None:
        """Raise :class:`DataError` if an event lies outside the ``width x height`` sensor."""
        if len(self) and (
            self.x.min() < 0 or self.y.min() < 0 or self.x.max() >= width
            or self.y.max() >= height
        ):
            raise DataError(
                f"{path}: events outside the {width}x{height} sensor (x {self.x.min()}..{self.x.max()},"
                f" y {self.y.min()}..{self.y.max()}); the file is corrupt or of another sensor; "
                f"{origin}"
            )


def time_bins(t: np.ndarray, timesteps: int) -> np.ndarray:
    """Bin index in ``0..T-1`` of each timestamp: T equal bins over ``[t_min, t_max]``.

    Bin ``k`` holds ``t_min + k*span/T <= t < t_min + (k+1)*span/T`` with
    ``span = t_max - t_min + 1``, computed in integers so no event falls outside the last bin.
    """
    if t.size == 0:
        return np.zeros(0, dtype=np.int64)
    t0 = int(t.min())
    span = int(t.max()) - t0 + 1
    return ((t - t0) * timesteps) // span


def events_to_frames(events: Events, timesteps: int, height: int, width: int) -> np.ndarray:
    """Bin a recording into uint8 counts ``(T, 2, H, W)`` (polarity channel 0 = OFF, 1 = ON)."""
    if len(events) == 0:
        return np.zeros((timesteps, 2, height, width), dtype=np.uint8)
    b = time_bins(events.t, timesteps)
    flat = ((b * 2 + events.p.astype(np.int64)) * height + events.y) * width + events.x
    counts = np.bincount(flat, minlength=timesteps * 2 * height * width)
    return np.minimum(counts, 255).astype(np.uint8).reshape(timesteps, 2, height, width)


def load_recordings(
    samples: Sequence[tuple[Path, int]],
    indices: np.ndarray,
    timesteps: int,
    sensor: tuple[int, int],
    read: Callable[[Path], Events],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Frames ``(N, T, 2, H, W)`` and int64 labels of the file-per-sample ``samples[indices]``.

    ``sensor`` is ``(width, height)``; ``read`` decodes one file (and checks its bounds).
    """
    width, height = sensor
    chosen = [samples[i] for i in indices.tolist()]
    frames = np.zeros((len(chosen), timesteps, 2, height, width), dtype=np.uint8)
    for k, (path, _) in enumerate(chosen):
        frames[k] = events_to_frames(read(path), timesteps, height, width)
    return torch.from_numpy(frames), torch.tensor([c for _, c in chosen], dtype=torch.int64)


def interleave_by_class(samples: list[tuple[Path, int]]) -> list[tuple[Path, int]]:
    """Order per-class file lists round-robin (class 0 file 0, class 1 file 0, ...).

    Folder-per-class layouts would otherwise put all of class 0 first, so ``--limit N`` on the
    test set would see one class only. The order stays deterministic (sorted names per class).
    """
    by_class: dict[int, list[Path]] = {}
    for path, label in samples:
        by_class.setdefault(label, []).append(path)
    for paths in by_class.values():
        paths.sort()
    out: list[tuple[Path, int]] = []
    depth = max((len(v) for v in by_class.values()), default=0)
    for k in range(depth):
        for label in sorted(by_class):
            if k < len(by_class[label]):
                out.append((by_class[label][k], label))
    return out
