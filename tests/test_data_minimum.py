"""A split too small for the run is one line before any work, not an accuracy of 0."""

from __future__ import annotations

import pytest

from autosnn.core.errors import DataError
from autosnn.data.spec import MIN_SEARCH_VAL, DataSpec, load_data


def test_a_split_smaller_than_the_run_needs_names_the_split_and_the_minimum():
    spec = DataSpec(dataset="synthetic", train_limit=8, val_limit=MIN_SEARCH_VAL - 1,
                    test_limit=8)
    with pytest.raises(DataError) as err:
        load_data(spec, need={"val": MIN_SEARCH_VAL}, what="a search")
    msg = str(err.value)
    assert "\n" not in msg
    assert f"val split holds {MIN_SEARCH_VAL - 1} samples" in msg and f"at least {MIN_SEARCH_VAL}" in msg
    assert "a search" in msg


def test_enough_samples_load():
    spec = DataSpec(dataset="synthetic", train_limit=8, val_limit=MIN_SEARCH_VAL, test_limit=8)
    splits = load_data(spec, need={"val": MIN_SEARCH_VAL}, what="a search")
    assert len(splits.val) == MIN_SEARCH_VAL
