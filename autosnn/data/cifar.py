"""CIFAR-10 and CIFAR-100 (Krizhevsky 2009), binary version preferred, python version admitted.

Binary records: CIFAR-10 ``<1 byte label><3072 bytes>``, CIFAR-100 ``<1 byte coarse><1 byte fine>
<3072 bytes>`` (we use the 100 fine labels); pixels are 1024 R, then G, then B, rows top-down.
The "python version" is a pickle; pickles can run arbitrary code, so it is read only through
:class:`SafeUnpickler`, which admits plain containers, bytes and numpy arrays and nothing else.
"""

from __future__ import annotations

import pickle
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autosnn.core.config import STATIC_TIMESTEPS
from autosnn.core.errors import DataError
from autosnn.data.registry import DatasetSpec, Source, register, take
from autosnn.data.types import DatasetInfo

PIXELS = 3 * 32 * 32

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)

# The only globals a CIFAR pickle needs: numpy's array/dtype reconstruction (numpy 1 and 2 module
# paths, protocols 2 and 5) and the latin-1 bytes trick of protocol-2 pickles written by Python 3.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),  # arrays in protocol-5 pickles
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class SafeUnpickler(pickle.Unpickler):
    """Unpickler that refuses every global outside :data:`_ALLOWED_GLOBALS`."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refused global {module}.{name}")
        return super().find_class(module, name)


def safe_unpickle(path: Path, origin: str) -> dict[Any, Any]:
    """Load a CIFAR python-version batch, refusing anything but lists, bytes and arrays."""
    try:
        with open(path, "rb") as f:
            obj = SafeUnpickler(f, encoding="bytes").load()
    # a damaged pickle fails in many ways inside the unpickler: an unknown codec name for the
    # latin-1 trick (LookupError), a huge length or memo index (MemoryError, OverflowError), ...
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, LookupError,
            MemoryError, OverflowError, RecursionError) as exc:
        raise DataError(
            f"{path}: not a plain CIFAR python batch ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())[:120]}); expected a pickled dict of data/labels arrays; "
            f"{origin}"
        ) from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}: pickle holds {type(obj).__name__}, expected a dict; {origin}")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def read_binary_records(path: Path, label_bytes: int, origin: str, layout: str) -> tuple[
    np.ndarray, np.ndarray
]:
    """Read fixed-size CIFAR binary records into (images (N,3,32,32), last label byte (N,))."""
    record = label_bytes + PIXELS
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise DataError(f"{path}: unreadable ({exc}); expected {layout}; {origin}") from None
    if raw.size == 0 or raw.size % record:
        raise DataError(
            f"{path}: {raw.size} bytes is not a whole number of {record}-byte records; "
            f"expected {layout}; {origin}"
        )
    rows = raw.reshape(-1, record)
    return rows[:, label_bytes:].reshape(-1, 3, 32, 32), rows[:, label_bytes - 1].copy()


def _labels(raw: Any, path: Path, key: str, origin: str) -> np.ndarray:
    """A batch's labels as int64: a list of plain integers or a 1-D integer array, each in
    [0, 2^31). Anything else (floats that would be truncated, bools, text, NaN, integers beyond
    int64, nested lists) is one :class:`DataError` line instead of a cast that fails or guesses."""
    if isinstance(raw, np.ndarray) and raw.ndim == 1 and raw.dtype.kind in "iu":
        values = raw
    elif isinstance(raw, list | tuple) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in raw):
        if any(not 0 <= v < 2**31 for v in raw):
            bad = next(v for v in raw if not 0 <= v < 2**31)
            raise DataError(f"{path}: '{key}' holds label {bad}, outside 0..2^31; {origin}"[:300])
        values = np.array(raw, dtype=np.int64)
    else:
        what = (f"{raw.dtype}{list(raw.shape)}" if isinstance(raw, np.ndarray)
                else type(raw).__name__)
        raise DataError(f"{path}: '{key}' is {what}, expected a list of integer labels; "
                        f"{origin}"[:300])
    return values.astype(np.int64)


def _python_batch(path: Path, label_key: str, origin: str, layout: str) -> tuple[
    np.ndarray, np.ndarray
]:
    batch = safe_unpickle(path, origin)
    if "data" not in batch or label_key not in batch:
        raise DataError(f"{path}: keys 'data' and '{label_key}' missing; expected {layout}; {origin}")
    data = np.asarray(batch["data"])
    labels = _labels(batch[label_key], path, label_key, origin)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
        raise DataError(
            f"{path}: 'data' is {data.dtype}{list(data.shape)}, expected uint8 [N, 3072]; {origin}"
        )
    if labels.shape != (data.shape[0],):
        raise DataError(f"{path}: {labels.size} labels for {data.shape[0]} images; {origin}")
    return data.reshape(-1, 3, 32, 32), labels


def _open_cifar(
    root: Path,
    *,
    binary: dict[str, list[str]],
    python: dict[str, list[str]],
    label_bytes: int,
    label_key: str,
    num_classes: int,
    origin: str,
    layout: str,
) -> Source:
    use_binary = (root / binary["train"][0]).is_file()
    files = binary if use_binary else python
    for name in files["train"] + files["test"]:
        if not (root / name).is_file():
            raise DataError(f"{root / name}: file missing; expected {layout}; {origin}")

    def read(name: str) -> tuple[np.ndarray, np.ndarray]:
        path = root / name
        if use_binary:
            return read_binary_records(path, label_bytes, origin, layout)
        return _python_batch(path, label_key, origin, layout)

    @cache
    def arrays(part: str) -> tuple[np.ndarray, np.ndarray]:
        chunks = [read(name) for name in files[part]]
        images = np.concatenate([c[0] for c in chunks])
        labels = np.concatenate([c[1] for c in chunks]).astype(np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise DataError(
                f"{root / files[part][0]}: label outside 0..{num_classes - 1}; expected {layout}; "
                f"{origin}"
            )
        return images, labels

    def load(part: str, indices: np.ndarray, timesteps: int) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = arrays(part)
        return torch.from_numpy(take(images, indices)), torch.from_numpy(take(labels, indices))

    return Source(root, len(arrays("train")[1]), len(arrays("test")[1]), load)


_C10_ORIGIN = "official files: https://www.cs.toronto.edu/~kriz/cifar.html (cifar-10-binary.tar.gz)"
_C100_ORIGIN = (
    "official files: https://www.cs.toronto.edu/~kriz/cifar.html (cifar-100-binary.tar.gz)"
)
_C10_LAYOUT = (
    "cifar-10-batches-bin/ with data_batch_1.bin..data_batch_5.bin and test_batch.bin "
    "(or cifar-10-batches-py/ with data_batch_1..5 and test_batch)"
)
_C100_LAYOUT = "cifar-100-binary/ with train.bin and test.bin (or cifar-100-python/ with train, test)"

register(
    DatasetSpec(
        name="cifar10",
        title="CIFAR-10",
        layout=_C10_LAYOUT,
        origin=_C10_ORIGIN,
        subdirs=("cifar-10-batches-bin", "cifar-10-batches-py", "cifar10/cifar-10-batches-bin",
                 "cifar10/cifar-10-batches-py"),
        markers=("data_batch_1.bin", "data_batch_1"),
        open=lambda root: _open_cifar(
            root,
            binary={"train": [f"data_batch_{i}.bin" for i in range(1, 6)],
                    "test": ["test_batch.bin"]},
            python={"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]},
            label_bytes=1, label_key="labels", num_classes=10,
            origin=_C10_ORIGIN, layout=_C10_LAYOUT,
        ),
        info=DatasetInfo(
            name="cifar10", title="CIFAR-10", input_shape=(3, 32, 32), num_classes=10,
            is_event=False, timesteps=STATIC_TIMESTEPS, synthetic=False,
            mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616), flip_ok=True,
            classes=CIFAR10_CLASSES,
        ),
    )
)
register(
    DatasetSpec(
        name="cifar100",
        title="CIFAR-100",
        layout=_C100_LAYOUT,
        origin=_C100_ORIGIN,
        subdirs=("cifar-100-binary", "cifar-100-python", "cifar100/cifar-100-binary",
                 "cifar100/cifar-100-python"),
        markers=("train.bin", "train"),
        open=lambda root: _open_cifar(
            root,
            binary={"train": ["train.bin"], "test": ["test.bin"]},
            python={"train": ["train"], "test": ["test"]},
            label_bytes=2, label_key="fine_labels", num_classes=100,
            origin=_C100_ORIGIN, layout=_C100_LAYOUT,
        ),
        info=DatasetInfo(
            name="cifar100", title="CIFAR-100 (fine labels)", input_shape=(3, 32, 32),
            num_classes=100, is_event=False, timesteps=STATIC_TIMESTEPS, synthetic=False,
            mean=(0.5071, 0.4865, 0.4409), std=(0.2673, 0.2564, 0.2762), flip_ok=True,
        ),
    )
)
