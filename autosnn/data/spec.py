"""The data a NAS run sees: D_train / D_val / test from :mod:`autosnn.data`, capped per split.

The settings are recorded in every output (``DataSpec.to_dict``) so the search and the
retraining reload exactly the samples the super-network was trained on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch

from autosnn.core.checkpoint import MAX_TIMESTEPS
from autosnn.core.errors import DataError
from autosnn.data import DatasetSplits, TensorSplit, load_dataset
from autosnn.data.registry import get_spec

# Integer fields of a recorded spec and their ranges (a seed is 0..2^32-1 like --seed; a limit
# of 0 is refused here too: an empty split is never a usable setting).
_INT_FIELDS = {"seed": (0, 2**32 - 1), "train_limit": (1, 2**31), "val_limit": (1, 2**31),
               "test_limit": (1, 2**31), "timesteps": (1, MAX_TIMESTEPS)}

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
    def from_dict(d: object, where: str = "data spec", field: str = "data") -> DataSpec:
        """A spec recorded in a file (a super-network's ``extra.data``, a resume fingerprint):
        every field type- and range-checked, so a hand-edited record is one :class:`DataError`
        line naming ``where`` (the file) and ``field`` (where the spec sits in it) instead of a
        TypeError or a silently odd run."""
        if not isinstance(d, dict):
            raise DataError(f"{where}: field {field}: expected an object of data settings, got "
                            f"{type(d).__name__}")
        known = DataSpec.__dataclass_fields__
        unknown = sorted(str(k) for k in set(d) - set(known))
        if unknown:
            raise DataError(f"{where}: field {field}: unknown keys {unknown}; expected some of "
                            f"{', '.join(known)}"[:300])
        for key in ("dataset", "data_dir"):
            if d.get(key) is not None and not (isinstance(d[key], str) and d[key]):
                raise DataError(f"{where}: field {field}.{key}: expected a non-empty string or "
                                f"null, got {d[key]!r}"[:300])
        for key, (lo, hi) in _INT_FIELDS.items():
            value = d.get(key, 0 if key == "seed" else None)
            if value is None and key != "seed":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise DataError(f"{where}: field {field}.{key}: expected an integer in [{lo}, {hi}]"
                                + (" or null" if key != "seed" else "") + f", got {value!r}"[:200])
        if d.get("dataset") is not None:
            try:
                get_spec(d["dataset"])
            except DataError as exc:
                raise DataError(f"{where}: field {field}.dataset: {exc}") from None
        if not isinstance(d.get("full_train", False), bool):
            raise DataError(f"{where}: field {field}.full_train: expected true or false, got "
                            f"{d['full_train']!r}"[:300])
        return DataSpec(**d)


def _cap(split: TensorSplit, limit: int | None) -> TensorSplit:
    if limit is None or limit >= len(split):
        return split
    return split.select(slice(limit))


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
# 1/len(D_val): below 5 images every step is 20 pp or more and the ranking is nothing but noise
# (even at 400 images the standard error near 60 % is 2.4 pp; report.md shows the intervals).
MIN_SAMPLES = {"train": 1, "val": 1, "test": 1}
MIN_SEARCH_VAL = 5


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
