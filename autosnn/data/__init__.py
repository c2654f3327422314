"""Datasets for autosnn: the official files read from disk (never downloaded), split and batched.

Public API::

    splits = load_dataset("cifar10", "/data", seed=0, limit=None, timesteps=None)
    for x, y in batches(splits.train, 96, shuffle=True, seed=epoch, device="cuda",
                        augment=Augment(crop_pad=4, flip=True, cutout=16)):
        ...

``load_dataset(None)`` loads the built-in default, Fashion-MNIST (Debian's
``/usr/share/datasets/fashion-mnist``). See ``docs/data.md`` for every dataset's layout.
"""

from __future__ import annotations

# Importing the dataset modules registers them.
from autosnn.data import (  # noqa: F401
    cifar,
    cifar10_dvs,
    dvs_gesture,
    idx,
    nmnist,
    svhn,
    synthetic,
    tiny_imagenet,
)
from autosnn.data.augment import Augment
from autosnn.data.events import Events, events_to_frames
from autosnn.data.loader import batches
from autosnn.data.registry import (
    DEFAULT_DATASET,
    ENV_VAR,
    dataset_info,
    get_spec,
    list_datasets,
    load_dataset,
    split_train_val,
)
from autosnn.data.synthetic import saccade_events
from autosnn.data.types import DatasetInfo, DatasetSplits, SplitIndices, TensorSplit

__all__ = [
    "DEFAULT_DATASET",
    "ENV_VAR",
    "Augment",
    "DatasetInfo",
    "DatasetSplits",
    "Events",
    "SplitIndices",
    "TensorSplit",
    "batches",
    "dataset_info",
    "events_to_frames",
    "get_spec",
    "list_datasets",
    "load_dataset",
    "saccade_events",
    "split_train_val",
]
