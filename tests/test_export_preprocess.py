"""The preprocessing record reproduces what ``autosnn eval`` feeds a network, from the record alone."""

from __future__ import annotations

import json

import pytest
import torch

from autosnn.core.errors import AutosnnError
from autosnn.data import batches
from autosnn.data.preprocess import apply_preprocess, preprocess_from_extra, preprocessing_meta
from autosnn.data.registry import get_spec
from autosnn.data.types import TensorSplit


def test_record_applied_to_raw_28px_images_equals_the_eval_batches():
    info = get_spec("fashion-mnist").info
    g = torch.Generator().manual_seed(0)
    raw28 = torch.randint(0, 256, (5, 1, 28, 28), generator=g, dtype=torch.uint8)
    stored = torch.nn.functional.pad(raw28, (2, 2, 2, 2))  # how the loader stores them
    split = TensorSplit(stored, torch.zeros(5, dtype=torch.int64), info=info)
    (want, _), = batches(split, 5)
    rec = json.loads(json.dumps(preprocessing_meta(info)))  # plain JSON, as in the files
    torch.testing.assert_close(apply_preprocess(rec, raw28), want)
    torch.testing.assert_close(apply_preprocess(rec, stored), want)
    assert rec["classes"][0] == "T-shirt/top" and rec["pad"] == 2 and rec["encoding"] == "static"


def test_event_record_feeds_time_first_unnormalised_counts():
    info = get_spec("nmnist").info
    rec = preprocessing_meta(info)
    assert rec["encoding"] == "events" and rec["pad"] == 0
    raw = torch.randint(0, 3, (2, 4, *info.input_shape), dtype=torch.uint8)
    x = apply_preprocess(rec, raw)
    assert x.shape == (4, 2, *info.input_shape) and torch.equal(x, raw.float().transpose(0, 1))


def test_record_rebuilt_from_an_older_checkpoints_data_field():
    rec = preprocess_from_extra({"data": {"dataset": None, "seed": 0}})  # None: the default set
    assert rec is not None and rec["dataset"] == "fashion-mnist"
    assert preprocess_from_extra({}) is None
    assert preprocess_from_extra({"preprocess": {"dataset": "x"}}) == {"dataset": "x"}


def test_wrong_image_size_names_what_the_record_expects():
    rec = preprocessing_meta(get_spec("fashion-mnist").info)
    with pytest.raises(AutosnnError, match="32x32.*28x28"):
        apply_preprocess(rec, torch.zeros(1, 1, 30, 30, dtype=torch.uint8))
