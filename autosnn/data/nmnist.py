"""N-MNIST (Orchard et al. 2015): MNIST digits recorded by an ATIS sensor on saccades, 34x34.

Each ``.bin`` file is a sequence of 40-bit events: byte 0 = x, byte 1 = y, byte 2 bit 7 =
polarity, bits 22..0 over bytes 2-4 = timestamp in microseconds (big-endian). Following the
authors' reader, an event with y == 240 is a timestamp-overflow marker: it is dropped and adds
2**13 to every later timestamp. Layout as tonic extracts it: ``NMNIST/Train/<digit>/*.bin`` and
``NMNIST/Test/<digit>/*.bin`` (the official ``Train.zip``/``Test.zip`` contents).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from autosnn.core.config import EVENT_TIMESTEPS
from autosnn.core.errors import DataError
from autosnn.data.events import Events, interleave_by_class, load_recordings
from autosnn.data.registry import DatasetSpec, Source, register
from autosnn.data.types import DatasetInfo

SENSOR = (34, 34)  # (width, height)
OVERFLOW_Y = 240
OVERFLOW_INCREMENT = 2**13
_ORIGIN = "official files: https://www.garrickorchard.com/datasets/n-mnist (Train.zip, Test.zip)"
_LAYOUT = "NMNIST/Train/<digit 0-9>/*.bin and NMNIST/Test/<digit 0-9>/*.bin"


def read_nmnist_bin(path: Path) -> Events:
    """Decode one N-MNIST recording into events (x, y in 0..33, p in {0, 1}, t in us)."""
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise DataError(f"{path}: unreadable ({exc}); {_ORIGIN}") from None
    if raw.size % 5:
        raise DataError(
            f"{path}: {raw.size} bytes is not a whole number of 5-byte events; expected "
            f"N-MNIST 40-bit records; {_ORIGIN}"
        )
    rec = raw.reshape(-1, 5).astype(np.int64)
    x, y = rec[:, 0], rec[:, 1]
    p = rec[:, 2] >> 7
    t = ((rec[:, 2] & 0x7F) << 16) | (rec[:, 3] << 8) | rec[:, 4]
    overflow = y == OVERFLOW_Y
    if overflow.any():
        t = t + np.cumsum(overflow) * OVERFLOW_INCREMENT
        keep = ~overflow
        x, y, t, p = x[keep], y[keep], t[keep], p[keep]
    events = Events.of(x, y, t, p)
    events.check_bounds(*SENSOR, path, _ORIGIN)
    return events


def _list(root: Path, split: str) -> list[tuple[Path, int]]:
    folder = root / split
    if not folder.is_dir():
        raise DataError(f"{folder}: folder missing; expected {_LAYOUT}; {_ORIGIN}")
    samples: list[tuple[Path, int]] = []
    for digit in range(10):
        samples.extend((p, digit) for p in (folder / str(digit)).glob("*.bin"))
    if not samples:
        raise DataError(f"{folder}: no <digit>/*.bin recordings; expected {_LAYOUT}; {_ORIGIN}")
    return interleave_by_class(samples)


def _open_nmnist(root: Path) -> Source:
    samples = {"train": _list(root, "Train"), "test": _list(root, "Test")}

    def load(part: str, indices: np.ndarray, timesteps: int) -> tuple[torch.Tensor, torch.Tensor]:
        return load_recordings(samples[part], indices, timesteps, SENSOR, read_nmnist_bin)

    return Source(root, len(samples["train"]), len(samples["test"]), load)


register(
    DatasetSpec(
        name="nmnist",
        title="N-MNIST",
        layout=_LAYOUT,
        origin=_ORIGIN,
        subdirs=("NMNIST", "nmnist", "N-MNIST"),
        markers=("Train",),
        open=_open_nmnist,
        info=DatasetInfo(
            name="nmnist", title="N-MNIST (34x34 ATIS saccades)", input_shape=(2, 34, 34),
            num_classes=10, is_event=True, timesteps=EVENT_TIMESTEPS, synthetic=False, mean=(0.0, 0.0),
            std=(1.0, 1.0), flip_ok=False, classes=tuple(str(d) for d in range(10)),
        ),
    )
)
