"""Dataset registry, data-directory resolution, the seeded 8:2 split and :func:`load_dataset`.

Each dataset module registers one :class:`DatasetSpec`; the CLI's choices and the tests come from
:func:`list_datasets`. Nothing is ever downloaded: a spec only knows how to *find* the official files
under a directory the user names (``--data-dir`` or ``$AUTOSNN_DATA``) and how to read them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from autosnn.core.checkpoint import MAX_TIMESTEPS
from autosnn.core.errors import DataError
from autosnn.data.types import DatasetInfo, DatasetSplits, SplitIndices, TensorSplit

ENV_VAR = "AUTOSNN_DATA"
DEFAULT_DATASET = "fashion-mnist"
VAL_FRACTION = 0.2  # D_train : D_val = 8 : 2 (paper, Sec. 4)

# load(part, indices, timesteps) -> (inputs, labels); part is "train" or "test".
LoadFn = Callable[[str, np.ndarray, int], tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class Source:
    """A located, validated copy of a dataset: sample counts known, samples read on demand.

    Reading on demand lets ``--limit`` runs on file-per-sample datasets (N-MNIST has 70,000 files)
    touch only the files they use.
    """

    root: Path
    n_train: int
    n_test: int
    load: LoadFn
    classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatasetSpec:
    """Everything needed to find, read and describe one dataset.

    ``subdirs`` are the folder names the official archives extract to, tried below the data
    directory; ``marker`` is the file or folder whose presence identifies the layout.
    """

    name: str
    title: str
    layout: str  # human-readable expected layout, quoted in error messages
    origin: str  # where the official files come from, quoted in error messages
    subdirs: tuple[str, ...]
    markers: tuple[str, ...]
    open: Callable[[Path], Source]
    info: DatasetInfo
    default_dir: Path | None = None
    needs_files: bool = True  # False only for the synthetic generators

    def find_root(self, base: Path) -> Path | None:
        """Return ``base`` or ``base/<subdir>`` holding one of the markers, else None."""
        for candidate in (base, *(base / s for s in self.subdirs)):
            if any((candidate / m).exists() for m in self.markers):
                return candidate
        return None

    def missing(self, where: str) -> DataError:
        """The one error for 'not found': where we looked, the layout, where to get it."""
        return DataError(
            f"{where}: no {self.title} files found (looked for {' or '.join(self.markers)}); "
            f"expected {self.layout}; {self.origin}"
        )


_REGISTRY: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec) -> DatasetSpec:
    """Add a dataset to the registry (one call per dataset module)."""
    if spec.name in _REGISTRY:
        raise ValueError(f"dataset {spec.name!r} registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def list_datasets() -> list[str]:
    """Names accepted by :func:`load_dataset` and ``autosnn data info``."""
    return sorted(_REGISTRY)


def get_spec(name: str | None) -> DatasetSpec:
    """Look a dataset up by name (None means the built-in default, Fashion-MNIST)."""
    key = DEFAULT_DATASET if name is None else name.strip().lower()
    if key not in _REGISTRY:
        raise DataError(
            f"unknown dataset {name!r}; expected one of: {', '.join(list_datasets())}"
        )
    return _REGISTRY[key]


def resolve_root(spec: DatasetSpec, data_dir: str | Path | None) -> Path:
    """Find the dataset's files: ``data_dir``, else ``$AUTOSNN_DATA``, else the spec's default.

    An explicit ``data_dir`` is authoritative (no silent fallback to another copy).
    """
    if not spec.needs_files:
        return Path("(generated)")
    if data_dir is not None:
        base = Path(data_dir).expanduser()
        if not base.is_dir():
            raise DataError(
                f"{base}: data directory does not exist; expected {spec.layout}; {spec.origin}"
            )
        root = spec.find_root(base)
        if root is None:
            raise spec.missing(str(base))
        return root
    looked: list[str] = []
    env = os.environ.get(ENV_VAR)
    if env:
        base = Path(env).expanduser()
        looked.append(f"${ENV_VAR}={base}")
        root = spec.find_root(base) if base.is_dir() else None
        if root is not None:
            return root
    if spec.default_dir is not None:
        looked.append(str(spec.default_dir))
        root = spec.find_root(spec.default_dir) if spec.default_dir.is_dir() else None
        if root is not None:
            return root
    if not looked:
        raise DataError(
            f"{spec.name}: no data directory given (pass --data-dir or set ${ENV_VAR}); "
            f"expected {spec.layout}; {spec.origin}"
        )
    raise spec.missing(", ".join(looked))


def _n_val(n_train: int) -> int:
    return int(round(n_train * VAL_FRACTION))


def split_train_val(n_train: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded 8:2 split of ``range(n_train)`` into (D_train, D_val) index tensors.

    Indices keep the permutation order (not sorted) so that the first N of each split is a random
    sample, which is what ``--limit N`` keeps.
    """
    generator = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n_train, generator=generator)
    n_val = _n_val(n_train)
    return perm[: n_train - n_val].clone(), perm[n_train - n_val :].clone()


def _check_options(limit: int | None, timesteps: int | None) -> None:
    if limit is not None and limit < 1:
        raise DataError(f"--limit must be >= 1, got {limit}")
    if timesteps is not None and timesteps < 1:
        raise DataError(f"--timesteps must be >= 1, got {timesteps}")
    if timesteps is not None and timesteps > MAX_TIMESTEPS:  # frames are allocated per step
        raise DataError(f"--timesteps must be <= {MAX_TIMESTEPS}, got {timesteps}")


def _limited(indices: torch.Tensor, limit: int | None) -> torch.Tensor:
    return indices if limit is None else indices[:limit]


def load_dataset(
    name: str | None,
    data_dir: str | Path | None = None,
    *,
    seed: int = 0,
    limit: int | None = None,
    timesteps: int | None = None,
) -> DatasetSplits:
    """Load a registered dataset into memory as D_train / D_val / test.

    ``name`` None loads Fashion-MNIST (from ``/usr/share/datasets/fashion-mnist`` if nothing else
    is configured). ``limit`` keeps the first N samples of each split. ``timesteps`` is the number
    of event frames (default 20) for event data and is recorded in ``info`` for static data
    (default 8). Raises :class:`DataError` for missing or malformed files.
    """
    _check_options(limit, timesteps)
    spec = get_spec(name)
    root = resolve_root(spec, data_dir)
    source = spec.open(root)
    t = timesteps if timesteps is not None else spec.info.timesteps
    train_idx, val_idx = split_train_val(source.n_train, seed)
    train_idx, val_idx = _limited(train_idx, limit), _limited(val_idx, limit)
    test_idx = _limited(torch.arange(source.n_test, dtype=torch.int64), limit)
    info = _info_for(spec, source, t)
    parts = {}
    for key, part, idx in (("train", "train", train_idx), ("val", "train", val_idx),
                           ("test", "test", test_idx)):
        inputs, labels = source.load(part, idx.numpy(), t)
        parts[key] = TensorSplit(inputs, labels, info)
    return DatasetSplits(
        train=parts["train"],
        val=parts["val"],
        test=parts["test"],
        info=info,
        split_indices=SplitIndices(seed=seed, train=train_idx, val=val_idx, test=test_idx),
    )


def dataset_info(
    name: str | None,
    data_dir: str | Path | None = None,
    *,
    limit: int | None = None,
    timesteps: int | None = None,
) -> tuple[DatasetInfo, dict[str, int]]:
    """Describe a dataset and its split sizes without decoding its samples (``data info``)."""
    _check_options(limit, timesteps)
    spec = get_spec(name)
    source = spec.open(resolve_root(spec, data_dir))
    t = timesteps if timesteps is not None else spec.info.timesteps
    n_val = _n_val(source.n_train)
    sizes = {"train": source.n_train - n_val, "val": n_val, "test": source.n_test}
    if limit is not None:
        sizes = {k: min(v, limit) for k, v in sizes.items()}
    return _info_for(spec, source, t), sizes


def _info_for(spec: DatasetSpec, source: Source, timesteps: int) -> DatasetInfo:
    return replace(
        spec.info,
        timesteps=timesteps,
        num_classes=len(source.classes) if source.classes else spec.info.num_classes,
        classes=source.classes or spec.info.classes,
        source=str(source.root),
    )


def take(array: np.ndarray, indices: Sequence[int] | np.ndarray) -> np.ndarray:
    """``array[indices]`` as a contiguous copy (so the full array can be freed)."""
    return np.ascontiguousarray(array[np.asarray(indices, dtype=np.int64)])
