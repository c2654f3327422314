"""SVHN, format 2 (cropped 32x32 digits) from the official MATLAB v5 ``.mat`` files.

``X`` is ``(32, 32, 3, N)`` uint8 (height, width, channel, sample) and ``y`` is ``(N, 1)`` with the
digit 0 stored as label 10, which we map back to 0. ``extra_32x32.mat`` is not used (the paper
trains on the 73,257 training digits). scipy reads the files; it is imported only here.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import torch

from autosnn.core.config import STATIC_TIMESTEPS
from autosnn.core.errors import DataError
from autosnn.data.registry import DatasetSpec, Source, register, take
from autosnn.data.types import DatasetInfo

_ORIGIN = "official files: http://ufldl.stanford.edu/housenumbers/ (format 2: train_32x32.mat, test_32x32.mat)"
_LAYOUT = "a folder with train_32x32.mat and test_32x32.mat (SVHN format 2, MATLAB v5)"
_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}


def read_svhn_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return (images (N, 3, 32, 32) uint8, labels (N,) int64 in 0..9) from one format-2 file."""
    import scipy.io  # local: only SVHN needs scipy

    try:
        mat = scipy.io.loadmat(path, variable_names=["X", "y"])
    except Exception as exc:  # noqa: BLE001  a damaged file fails in many ways inside scipy
        # (MatReadError, zlib.error from a compressed element, ValueError, EOFError, ...)
        raise DataError(f"{path}: not a readable MATLAB v5 file ({type(exc).__name__}: "
                        f"{' '.join(str(exc).split())[:120]}); expected {_LAYOUT}; "
                        f"{_ORIGIN}") from None
    if "X" not in mat or "y" not in mat:
        raise DataError(f"{path}: variables X and y missing; expected {_LAYOUT}; {_ORIGIN}")
    x, y = mat["X"], mat["y"]
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[:3] != (32, 32, 3):
        raise DataError(
            f"{path}: X is {x.dtype}{list(x.shape)}, expected uint8 [32, 32, 3, N]; {_ORIGIN}"
        )
    y = np.asarray(y).reshape(-1)
    # the official files store y as doubles: whole numbers only (text failed inside numpy, and
    # NaN or 1.5 were cast to -2^63 or 1 instead of being refused)
    if y.dtype.kind not in "iuf" or (y.dtype.kind == "f" and not (
            np.isfinite(y).all() and (y == np.round(y)).all())):
        raise DataError(f"{path}: y is {y.dtype}, expected whole-number labels 1..10; {_ORIGIN}")
    if y.size and (y.min() < 1 or y.max() > 10):
        raise DataError(f"{path}: labels must be 1..10 (10 = digit 0); {_ORIGIN}")
    labels = y.astype(np.int64)
    if labels.size != x.shape[3]:
        raise DataError(f"{path}: {labels.size} labels for {x.shape[3]} images; {_ORIGIN}")
    if labels.size and (labels.min() < 1 or labels.max() > 10):
        raise DataError(f"{path}: labels must be 1..10 (10 = digit 0); {_ORIGIN}")
    labels[labels == 10] = 0
    images = np.ascontiguousarray(x.transpose(3, 2, 0, 1))  # (N, C, H, W)
    return images, labels


def _open_svhn(root: Path) -> Source:
    for name in _FILES.values():
        if not (root / name).is_file():
            raise DataError(f"{root / name}: file missing; expected {_LAYOUT}; {_ORIGIN}")

    @cache
    def arrays(part: str) -> tuple[np.ndarray, np.ndarray]:
        return read_svhn_mat(root / _FILES[part])

    def load(part: str, indices: np.ndarray, timesteps: int) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = arrays(part)
        return torch.from_numpy(take(images, indices)), torch.from_numpy(take(labels, indices))

    return Source(root, len(arrays("train")[1]), len(arrays("test")[1]), load)


register(
    DatasetSpec(
        name="svhn",
        title="SVHN",
        layout=_LAYOUT,
        origin=_ORIGIN,
        subdirs=("svhn", "SVHN"),
        markers=("train_32x32.mat",),
        open=_open_svhn,
        info=DatasetInfo(
            name="svhn", title="SVHN (format 2, 32x32 digits)", input_shape=(3, 32, 32),
            num_classes=10, is_event=False, timesteps=STATIC_TIMESTEPS, synthetic=False,
            mean=(0.4377, 0.4438, 0.4728), std=(0.1980, 0.2010, 0.1970), flip_ok=False,
            classes=tuple(str(d) for d in range(10)),
        ),
    )
)
