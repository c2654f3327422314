"""Hostile winner files (``train --winner winner-<lambda>.json``): fields of the wrong type, NaN,
lists, oversize networks, missing fields, bad space/genotype, non-UTF-8 bytes, not JSON, deep
nesting. Each is exit code 2 with one line naming the file, no traceback, before any training,
and the output folder's earlier files are unchanged."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autosnn.core.checkpoint import MAX_CHANNELS, MAX_TIMESTEPS
from tests.test_hostile_checkpoints import HOSTILE, assert_clean_error, invoke, snapshot

pytestmark = pytest.mark.usefixtures("one_thread")

VALID = {"lambda": -0.24, "genotype": "SRB_k3,skip,SCB_k3,SCB_k3,skip", "accuracy": 0.5,
         "spikes": 100.0, "fitness": 0.4, "space": "snn1", "channels": 2, "timesteps": 1,
         "neuron": "plif", "checkpoint": "winner--0.24.pt"}
TRAIN = ["--dataset", "synthetic", "--limit", "4", "--epochs", "1", "--batch-size", "4", "-q",
         "--device", "cpu", "--preset", "quick"]

scalars = (st.none() | st.booleans() | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=6) | st.lists(st.integers(), max_size=2)
           | st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))


def bad_int(hi: int) -> st.SearchStrategy:
    """Not an integer in [1, hi]: another type, a fraction, NaN, too small or too large."""
    return (scalars.filter(lambda v: not (isinstance(v, int) and not isinstance(v, bool)
                                          and 1 <= v <= hi))
            | st.integers(hi + 1, 10**15) | st.integers(-10**6, 0))


@st.composite
def broken_winners(draw) -> tuple[str, bytes]:
    w = dict(VALID)
    kind = draw(st.sampled_from(["channels", "timesteps", "missing", "space", "genotype",
                                 "bytes", "not-object", "deep"]))
    if kind == "channels":
        w["channels"] = draw(bad_int(MAX_CHANNELS))
    elif kind == "timesteps":
        w["timesteps"] = draw(bad_int(MAX_TIMESTEPS))
    elif kind == "missing":
        del w[draw(st.sampled_from(["space", "genotype", "channels", "timesteps"]))]
    elif kind == "space":
        w["space"] = draw(scalars.filter(lambda v: v != "snn1"))
    elif kind == "genotype":
        w["genotype"] = draw(scalars.filter(lambda v: v != VALID["genotype"])
                             | st.just("SRB_k3,bogus,skip,skip,skip") | st.just("skip"))
    elif kind == "bytes":  # not UTF-8: a Latin-1 file, or random bytes
        return kind, draw(st.just(json.dumps(w).replace("snn1", "snn\xe9").encode("latin-1"))
                          | st.binary(min_size=1, max_size=40).filter(_not_utf8))
    elif kind == "not-object":
        return kind, json.dumps(draw(scalars.filter(lambda v: not isinstance(v, dict)))).encode()
    else:
        depth = draw(st.integers(10_000, 200_000))
        return kind, b"[" * depth + b"]" * depth
    return kind, json.dumps(w, allow_nan=True).encode()


def _not_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def test_the_valid_winner_passes_validation(tmp_path):
    """The base of every case is accepted (the cases fail for their defect, not for the base)."""
    from autosnn.app.pipeline import model_from_winner

    path = tmp_path / "winner.json"
    path.write_text(json.dumps(VALID))
    spec = model_from_winner(path)
    assert (spec.space, spec.channels, spec.timesteps) == ("snn1", 2, 1)


@given(case=broken_winners())
@HOSTILE
def test_malformed_winner_is_one_line_naming_the_file(tmp_path, case):
    kind, raw = case
    path = tmp_path / "winner.json"
    path.write_bytes(raw)
    out = tmp_path / "train"
    out.mkdir(exist_ok=True)
    (out / "model.pt").write_bytes(b"an earlier model")
    before = snapshot(tmp_path)
    result = invoke("train", "--winner", path, "--out", out, *TRAIN)
    assert_clean_error(result, str(path))
    assert snapshot(tmp_path) == before, kind
