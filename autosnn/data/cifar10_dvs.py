"""CIFAR10-DVS (Li et al. 2017): 10,000 CIFAR-10 images recorded by a DVS128, 1,000 per class.

Layout: one folder per class (``airplane/`` ... ``truck/``), as both the official release and
tonic's ``CIFAR10DVS/`` folder have it. The official recordings are AEDAT 2.0 ``.aedat`` files
(read here); tonic's re-encoded ``.aedat4`` files are read through the optional ``aedat`` package
(as tonic does), with a clear message when it is not installed. There is no official test split: the last 10 % of each class (sorted file names) is
the test set, the other 90 % the training set that D_train / D_val are drawn from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from autosnn.core.config import EVENT_TIMESTEPS
from autosnn.core.errors import DataError
from autosnn.data.aedat import read_aedat2_dvs128, read_aedat4
from autosnn.data.cifar import CIFAR10_CLASSES
from autosnn.data.events import Events, interleave_by_class, load_recordings
from autosnn.data.registry import DatasetSpec, Source, register
from autosnn.data.types import DatasetInfo

SENSOR = (128, 128)
TEST_FRACTION = 0.1
_ORIGIN = (
    "official files: CIFAR10-DVS (Li et al. 2017), "
    "https://figshare.com/articles/dataset/CIFAR10-DVS_New/4724671 (one zip per class, AEDAT 2.0)"
)
_LAYOUT = (
    "CIFAR10DVS/<class>/*.aedat (or tonic's *.aedat4) for the 10 classes airplane, automobile, "
    "..., truck"
)


def _list(root: Path) -> tuple[list[tuple[Path, int]], list[tuple[Path, int]]]:
    train: list[tuple[Path, int]] = []
    test: list[tuple[Path, int]] = []
    for label, name in enumerate(CIFAR10_CLASSES):
        folder = root / name
        if not folder.is_dir():
            raise DataError(f"{folder}: folder missing; expected {_LAYOUT}; {_ORIGIN}")
        files = sorted(folder.glob("*.aedat")) or sorted(folder.glob("*.aedat4"))
        if not files:
            raise DataError(f"{folder}: no .aedat recordings; expected {_LAYOUT}; {_ORIGIN}")
        n_test = int(round(len(files) * TEST_FRACTION))
        cut = len(files) - n_test
        train.extend((p, label) for p in files[:cut])
        test.extend((p, label) for p in files[cut:])
    return interleave_by_class(train), interleave_by_class(test)


def _read(path: Path) -> Events:
    if path.suffix == ".aedat4":
        events = read_aedat4(path, _ORIGIN)
    else:
        events = read_aedat2_dvs128(path, _ORIGIN)
    events.check_bounds(*SENSOR, path, _ORIGIN)
    return events


def _open_cifar10_dvs(root: Path) -> Source:
    train, test = _list(root)
    samples = {"train": train, "test": test}

    def load(part: str, indices: np.ndarray, timesteps: int) -> tuple[torch.Tensor, torch.Tensor]:
        return load_recordings(samples[part], indices, timesteps, SENSOR, _read)

    return Source(root, len(train), len(test), load)


register(
    DatasetSpec(
        name="cifar10-dvs",
        title="CIFAR10-DVS",
        layout=_LAYOUT,
        origin=_ORIGIN,
        subdirs=("CIFAR10DVS", "cifar10-dvs", "CIFAR10-DVS"),
        markers=("airplane",),
        open=_open_cifar10_dvs,
        info=DatasetInfo(
            name="cifar10-dvs", title="CIFAR10-DVS (last 10 % per class as test)",
            input_shape=(2, 128, 128), num_classes=10, is_event=True, timesteps=EVENT_TIMESTEPS,
            synthetic=False, mean=(0.0, 0.0), std=(1.0, 1.0), flip_ok=True,
            classes=CIFAR10_CLASSES,
        ),
    )
)
