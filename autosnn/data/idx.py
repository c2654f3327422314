"""MNIST and Fashion-MNIST from their official IDX files (gzipped or not).

IDX layout (LeCun): big-endian magic ``0x00000803`` (uint8, 3 dims) for images and ``0x00000801``
(uint8, 1 dim) for labels, then one uint32 per dimension, then the raw bytes. The 28x28 digits are
zero-padded by 2 px per side to 32x32 so they fit the 32x32 stems of the search spaces.
"""

from __future__ import annotations

import gzip
import math
import zlib
from functools import cache
from pathlib import Path

import numpy as np
import torch

from autosnn.core.config import STATIC_TIMESTEPS
from autosnn.core.errors import DataError
from autosnn.data.registry import DatasetSpec, Source, register, take
from autosnn.data.types import DatasetInfo

PAD = 2  # 28 + 2 * 2 = 32
# The most an IDX file may decompress to: MNIST/Fashion-MNIST train images are 47 MB; a damaged
# header announcing more is refused before anything is allocated.
MAX_IDX_BYTES = 1 << 31
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_LAYOUT = (
    "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
    "t10k-labels-idx1-ubyte (each optionally .gz) in one folder"
)


def _find(root: Path, stem: str, origin: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (root / name).is_file():
            return root / name
    raise DataError(f"{root / stem}[.gz]: file missing; expected {_LAYOUT}; {origin}")


def read_idx(path: Path, expect_dims: int, origin: str) -> np.ndarray:
    """Read one uint8 IDX file (``.gz`` decompressed transparently), checking magic and size.

    The header is read first and only the size it announces (plus one byte, to notice trailing
    data) is decompressed: a damaged header or a gzip bomb costs at most ``MAX_IDX_BYTES``, and a
    damaged gzip stream (``zlib.error``, a bad CRC, a cut-off member) is one line naming the file.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    magic = 0x800 | expect_dims
    offset = 4 + 4 * expect_dims
    try:
        with opener(path, "rb") as f:
            head = f.read(offset)
            if len(head) < offset or int.from_bytes(head[:4], "big") != magic:
                raise DataError(
                    f"{path}: not a uint8 IDX file with {expect_dims} dimension(s) "
                    f"(magic 0x{magic:08x} expected); {origin}"
                )
            dims = tuple(int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big")
                         for i in range(expect_dims))
            size = math.prod(dims)
            if size > MAX_IDX_BYTES:
                raise DataError(f"{path}: header announces shape {dims} ({size} bytes), more "
                                f"than the {MAX_IDX_BYTES} bytes an IDX file may hold; {origin}")
            body = f.read(size + 1)
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        kind = "corrupt compressed data" if isinstance(exc, zlib.error) else type(exc).__name__
        raise DataError(f"{path}: unreadable ({kind}: "
                        f"{str(exc).strip()[:120]}); expected an IDX file; {origin}") from None
    if len(body) != size:
        got = f"{len(body)}" if len(body) <= size else "more"
        raise DataError(
            f"{path}: header announces shape {dims} ({size} bytes) but {got} bytes follow; "
            f"the file is truncated or corrupt; {origin}"
        )
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def _open_idx(root: Path, origin: str) -> Source:
    paths = {part: tuple(_find(root, s, origin) for s in stems) for part, stems in _FILES.items()}

    @cache
    def arrays(part: str) -> tuple[np.ndarray, np.ndarray]:
        img_path, lbl_path = paths[part]
        images = read_idx(img_path, 3, origin)
        labels = read_idx(lbl_path, 1, origin)
        if images.shape[0] != labels.shape[0]:
            raise DataError(
                f"{lbl_path}: {labels.shape[0]} labels for {images.shape[0]} images in "
                f"{img_path.name}; {origin}"
            )
        if images.shape[1:] != (28, 28):
            raise DataError(f"{img_path}: images are {images.shape[1:]}, expected 28x28; {origin}")
        if labels.size and labels.max() > 9:
            raise DataError(f"{lbl_path}: label {labels.max()} outside 0..9; {origin}")
        return images, labels

    def load(part: str, indices: np.ndarray, timesteps: int) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = arrays(part)
        x = torch.from_numpy(take(images, indices))  # (N, 28, 28)
        x = torch.nn.functional.pad(x, (PAD, PAD, PAD, PAD)).unsqueeze(1)  # (N, 1, 32, 32)
        return x.contiguous(), torch.from_numpy(take(labels, indices)).to(torch.int64)

    return Source(
        root=root,
        n_train=len(arrays("train")[1]),
        n_test=len(arrays("test")[1]),
        load=load,
    )


def _padded_stats(mean28: float, std28: float) -> tuple[float, float]:
    """Mean/std of the 32x32 zero-padded images from the published 28x28 statistics."""
    keep = 28 * 28 / (32 * 32)
    mean = mean28 * keep
    second_moment = (std28**2 + mean28**2) * keep
    return mean, float(np.sqrt(second_moment - mean**2))


_FMNIST_ORIGIN = (
    "official files: https://github.com/zalandoresearch/fashion-mnist (data/fashion), or the "
    "Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist)"
)
_MNIST_ORIGIN = "official files: http://yann.lecun.com/exdb/mnist/ (the four IDX .gz files)"
_FM_MEAN, _FM_STD = _padded_stats(0.2860, 0.3530)
_M_MEAN, _M_STD = _padded_stats(0.1307, 0.3081)

FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

register(
    DatasetSpec(
        name="fashion-mnist",
        title="Fashion-MNIST",
        layout=_LAYOUT,
        origin=_FMNIST_ORIGIN,
        subdirs=("fashion-mnist", "FashionMNIST/raw", "FashionMNIST"),
        markers=("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"),
        open=lambda root: _open_idx(root, _FMNIST_ORIGIN),
        info=DatasetInfo(
            name="fashion-mnist", title="Fashion-MNIST (28x28 zero-padded to 32x32)",
            input_shape=(1, 32, 32), num_classes=10, is_event=False, timesteps=STATIC_TIMESTEPS,
            synthetic=False, mean=(_FM_MEAN,), std=(_FM_STD,), flip_ok=True,
            classes=FASHION_CLASSES, pad=PAD,
        ),
        default_dir=Path("/usr/share/datasets/fashion-mnist"),
    )
)
register(
    DatasetSpec(
        name="mnist",
        title="MNIST",
        layout=_LAYOUT,
        origin=_MNIST_ORIGIN,
        subdirs=("mnist", "MNIST/raw", "MNIST"),
        markers=("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"),
        open=lambda root: _open_idx(root, _MNIST_ORIGIN),
        info=DatasetInfo(
            name="mnist", title="MNIST (28x28 zero-padded to 32x32)",
            input_shape=(1, 32, 32), num_classes=10, is_event=False, timesteps=STATIC_TIMESTEPS,
            synthetic=False, mean=(_M_MEAN,), std=(_M_STD,), flip_ok=False,
            classes=tuple(str(d) for d in range(10)), pad=PAD,
        ),
    )
)
