"""The data a NAS run sees: D_train / D_val / test from :mod:`autosnn.data`, capped per split.

The settings are recorded in every output (``DataSpec.to_dict``) so the search and the
retraining reload exactly the samples the super-network was trained on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch

from autosnn.core.errors import DataError
from autosnn.data import DatasetSplits, TensorSplit, load_dataset

# The splits every dataset is divided into (D_train, D_val from the training set; test).
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class DataSpec:
    """Which dataset, where, the split seed, per-split sample caps and the event timesteps."""

    dataset: str | None = None
    data_dir: str | None = None
    seed: int = 0
    train_limit: int | None = None
    val_limit: int | None = None
    test_limit: int | None = None
    timesteps: int | None = None
    # Train on the whole official training set (D_train + D_val), as the paper retrains its
    # searched and hand-crafted networks (A.1.3); the super-network and the search keep the 8:2
    # split. ``train_limit`` then caps the merged set (D_train's samples come first).
    full_train: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        if not self.full_train:  # records (and resume fingerprints) from before the field
            d.pop("full_train")
        return d

    @staticmethod
    def from_dict(d: dict) -> DataSpec:
        return DataSpec(**d)


def _cap(split: TensorSplit, limit: int | None) -> TensorSplit:
    if limit is None or limit >= len(split):
        return split
    return TensorSplit(split.inputs[:limit], split.labels[:limit], info=split.info)


def _merge_train_val(splits: DatasetSplits) -> DatasetSplits:
    """D_train followed by D_val as the training split (D_val is kept as it is)."""
    train, val = splits.train, splits.val
    merged = TensorSplit(torch.cat([train.inputs, val.inputs]),
                         torch.cat([train.labels, val.labels]), info=train.info)
    idx = splits.split_indices
    return replace(splits, train=merged, split_indices=replace(
        idx, train=torch.cat([idx.train[: len(train)], idx.val[: len(val)]])))


# Samples a split must hold before any work starts: an empty split silently gives accuracy 0
# (and a "winner" chosen on nothing). A search ranks candidates by D_val accuracy in steps of
# 1/len(D_val): below 10 images every step is 10 pp and candidates cannot be told apart at all
# (even at 400 images the standard error near 60 % is 2.4 pp; report.md shows the intervals).
MIN_SAMPLES = {"train": 1, "val": 1, "test": 1}
MIN_SEARCH_VAL = 10


def require_samples(splits: DatasetSplits, need: dict[str, int], what: str) -> None:
    """One line before any training when a split is smaller than ``what`` needs."""
    for name, n in need.items():
        have = len(getattr(splits, name))
        if have < n:
            raise DataError(f"{splits.info.name}: the {name} split holds {have} samples; {what} "
                            f"needs at least {n} (check the data folder and --limit)")


def load_data(spec: DataSpec, need: dict[str, int] | None = None,
              what: str = "a run") -> DatasetSplits:
    """Load the dataset and keep the first ``*_limit`` samples of each split (random samples:
    the split indices are a seeded permutation). Each split must hold ``need`` samples
    (default :data:`MIN_SAMPLES`), said up front in one line."""
    limits = (spec.train_limit, spec.val_limit, spec.test_limit)
    known = [v for v in limits if v is not None]
    common = max(known) if len(known) == len(limits) else None  # None if any split is unlimited
    splits = load_dataset(spec.dataset, spec.data_dir, seed=spec.seed, limit=common,
                          timesteps=spec.timesteps)
    if spec.full_train:
        splits = _merge_train_val(splits)
    splits = replace(
        splits,
        train=_cap(splits.train, spec.train_limit),
        val=_cap(splits.val, spec.val_limit),
        test=_cap(splits.test, spec.test_limit),
    )
    require_samples(splits, MIN_SAMPLES if need is None else need, what)
    return splits
