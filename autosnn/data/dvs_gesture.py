"""DVS128 Gesture (Amir et al. 2017): 11 hand/arm gestures, 29 subjects, DVS128 sensor.

Two layouts are read:

- tonic's preprocessed copy (what ``tonic.datasets.DVSGesture`` extracts):
  ``DVSGesture/ibmGestureTrain/user<NN>_<lighting>/<label>.npy`` (and ``ibmGestureTest``), each
  a ``(N, 4)`` array of ``x, y, p, t`` with t in milliseconds; the file name is the class 0..10.
- the original IBM release: ``DvsGesture/user<NN>_<lighting>.aedat`` (AEDAT 3.1) with
  ``user<NN>_<lighting>_labels.csv`` (``class,startTime_usec,endTime_usec``, classes 1..11) and
  ``trials_to_train.txt`` / ``trials_to_test.txt``; each labelled interval is one sample.

Horizontal flips are not label-preserving here (left- vs right-hand waves), so ``flip_ok`` is
False.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from autosnn.core.config import EVENT_TIMESTEPS
from autosnn.core.errors import DataError
from autosnn.data.aedat import read_aedat31_polarity
from autosnn.data.events import Events, events_to_frames, load_recordings
from autosnn.data.registry import DatasetSpec, Source, register
from autosnn.data.types import DatasetInfo

SENSOR = (128, 128)
NUM_CLASSES = 11
CLASSES = (
    "hand clapping", "right hand wave", "left hand wave", "right arm clockwise",
    "right arm counter-clockwise", "left arm clockwise", "left arm counter-clockwise",
    "arm roll", "air drums", "air guitar", "other gestures",
)
_ORIGIN = (
    "official files: https://research.ibm.com/interactive/dvsgesture/ (DvsGesture.tar.gz), or "
    "tonic's preprocessed ibmGestureTrain.tar.gz / ibmGestureTest.tar.gz "
    "(https://figshare.com/ndownloader/files/38022171 and 38020584)"
)
_LAYOUT = (
    "DVSGesture/ibmGestureTrain/user<NN>_<lighting>/<label>.npy and ibmGestureTest/... "
    "(tonic), or DvsGesture/ with user<NN>_<lighting>.aedat, *_labels.csv, trials_to_train.txt "
    "and trials_to_test.txt (IBM original)"
)


# Longest timestamp a recording may carry (ms): a day; DVS128 Gesture trials last seconds.
MAX_T_MS = 86_400_000.0


def read_gesture_npy(path: Path) -> Events:
    """Read one tonic-preprocessed sample: ``(N, 4)`` columns x, y, p, t (ms)."""
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:  # EOFError: an empty file
        raise DataError(f"{path}: not a readable .npy array ({exc}); {_ORIGIN}") from None
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise DataError(f"{path}: array {list(arr.shape)}, expected [N, 4] (x, y, p, t); {_ORIGIN}")
    # real numbers only, finite, times in [0, MAX_T_MS]: text arrays failed inside numpy and NaN
    # or inf timestamps were cast to -2^63 (garbage bins) instead of being refused
    if arr.dtype.kind not in "iuf":
        raise DataError(f"{path}: array of {arr.dtype}, expected real numbers (x, y, p, t); "
                        f"{_ORIGIN}")
    if arr.size and (not np.isfinite(arr).all() or arr[:, 3].min() < 0
                     or arr[:, 3].max() > MAX_T_MS):
        raise DataError(f"{path}: non-finite values or timestamps outside 0..{MAX_T_MS:.0e} ms; "
                        f"the file is corrupt; {_ORIGIN}")
    events = Events.of(arr[:, 0], arr[:, 1], np.round(arr[:, 3] * 1000), arr[:, 2])
    events.check_bounds(*SENSOR, path, _ORIGIN)
    return events


def _tonic_samples(root: Path, folder: str) -> list[tuple[Path, int]]:
    base = root / folder
    if not base.is_dir():
        raise DataError(f"{base}: folder missing; expected {_LAYOUT}; {_ORIGIN}")
    samples: list[tuple[Path, int]] = []
    for path in sorted(base.glob("*/*.npy")):
        if not path.stem.isdigit() or int(path.stem) >= NUM_CLASSES:
            raise DataError(f"{path}: file name must be the class number 0..10; {_ORIGIN}")
        samples.append((path, int(path.stem)))
    if not samples:
        raise DataError(f"{base}: no user*/<label>.npy samples; expected {_LAYOUT}; {_ORIGIN}")
    return samples


# An original-layout sample: (recording, label, start_us, end_us).
_Segment = tuple[Path, int, int, int]


def _original_samples(root: Path, trials_file: str) -> list[_Segment]:
    listing = root / trials_file
    if not listing.is_file():
        raise DataError(f"{listing}: file missing; expected {_LAYOUT}; {_ORIGIN}")
    segments: list[_Segment] = []
    for name in (s.strip() for s in listing.read_text().splitlines()):
        if not name:
            continue
        aedat = root / name
        csv = root / (Path(name).stem + "_labels.csv")
        if not aedat.is_file() or not csv.is_file():
            raise DataError(
                f"{aedat if not aedat.is_file() else csv}: file missing (listed in {listing.name}); "
                f"expected {_LAYOUT}; {_ORIGIN}"
            )
        for n, line in enumerate(csv.read_text().splitlines(), start=1):
            fields = [f.strip() for f in line.split(",")]
            if n == 1 and not fields[0].isdigit():
                continue  # header: class,startTime_usec,endTime_usec
            if not line.strip():
                continue
            try:
                label, start, end = (int(f) for f in fields[:3])
            except ValueError:
                raise DataError(
                    f"{csv}: line {n} is not 'class,startTime_usec,endTime_usec'; {_ORIGIN}"
                ) from None
            if not 1 <= label <= NUM_CLASSES or end <= start:
                raise DataError(f"{csv}: line {n}: class must be 1..11 and end > start; {_ORIGIN}")
            segments.append((aedat, label - 1, start, end))
    return segments


def _open_gesture(root: Path) -> Source:
    width, height = SENSOR
    if (root / "ibmGestureTrain").is_dir():
        tonic = {"train": _tonic_samples(root, "ibmGestureTrain"),
                 "test": _tonic_samples(root, "ibmGestureTest")}

        def load(part: str, indices: np.ndarray, timesteps: int) -> tuple[torch.Tensor, torch.Tensor]:
            return load_recordings(tonic[part], indices, timesteps, SENSOR, read_gesture_npy)

        return Source(root, len(tonic["train"]), len(tonic["test"]), load)

    original = {"train": _original_samples(root, "trials_to_train.txt"),
                "test": _original_samples(root, "trials_to_test.txt")}

    def load_original(
        part: str, indices: np.ndarray, timesteps: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        chosen = [original[part][i] for i in indices.tolist()]
        frames = np.zeros((len(chosen), timesteps, 2, height, width), dtype=np.uint8)
        # Each recording holds ~11 gestures: decode every recording once, then cut the segments.
        by_file: dict[Path, list[int]] = {}
        for k, seg in enumerate(chosen):
            by_file.setdefault(seg[0], []).append(k)
        for path, ks in by_file.items():
            ev = read_aedat31_polarity(path, _ORIGIN)
            ev.check_bounds(width, height, path, _ORIGIN)
            for k in ks:
                _, _, start, end = chosen[k]
                m = (ev.t >= start) & (ev.t < end)
                seg = Events(ev.x[m], ev.y[m], ev.t[m], ev.p[m])
                frames[k] = events_to_frames(seg, timesteps, height, width)
        return torch.from_numpy(frames), torch.tensor([c[1] for c in chosen], dtype=torch.int64)

    return Source(root, len(original["train"]), len(original["test"]), load_original)


register(
    DatasetSpec(
        name="dvs-gesture",
        title="DVS128 Gesture",
        layout=_LAYOUT,
        origin=_ORIGIN,
        subdirs=("DVSGesture", "DvsGesture", "dvs-gesture"),
        markers=("ibmGestureTrain", "trials_to_train.txt"),
        open=_open_gesture,
        info=DatasetInfo(
            name="dvs-gesture", title="DVS128 Gesture (11 classes)", input_shape=(2, 128, 128),
            num_classes=NUM_CLASSES, is_event=True, timesteps=EVENT_TIMESTEPS, synthetic=False,
            mean=(0.0, 0.0), std=(1.0, 1.0), flip_ok=False, classes=CLASSES,
        ),
    )
)
