"""Hand-edited resume files: ``train --resume`` on a damaged ``train-state.pt`` and ``search
--resume`` on a damaged ``search-state.json`` end as exit code 2 with one line naming the file,
no traceback, and the run's earlier outputs unchanged. Stale temp files of a killed run are
removed on ``--resume`` and nowhere else.

The edits here are re-sealed (:func:`autosnn.core.checkpoint.seal_state`), so they reach the
field checks behind the SHA-256; an unsealed edit is damage (tests/test_state_checksums.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from autosnn.core.checkpoint import seal_state
from tests.test_hostile_checkpoints import HOSTILE, assert_clean_error, invoke, snapshot

pytestmark = pytest.mark.usefixtures("one_thread")

TRAIN = ["train", "--genotype", "SRB_k3,skip,SCB_k3,SCB_k3,skip", "--channels", "2",
         "--timesteps", "1", "--dataset", "synthetic", "--limit", "8", "--batch-size", "8",
         "--preset", "quick", "--seed", "0", "--device", "cpu", "-q"]
SUPERNET = ["supernet", "--dataset", "synthetic", "--limit", "16", "--channels", "2",
            "--timesteps", "1", "--epochs", "1", "--batch-size", "8", "--preset", "quick",
            "--device", "cpu", "-q"]
SEARCH = ["search", "--lambda", "0", "--rounds", "2", "--pool", "4", "--top-k", "2",
          "--mutations", "1", "--crossovers", "1", "--preset", "quick", "--device", "cpu", "-q"]


def ok(*args: str | Path) -> None:
    result = invoke(*args)
    assert result.exit_code == 0, result.output + repr(result.exception)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("train")
    ok(*TRAIN, "--epochs", "1", "--out", out)
    return out


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("search")
    ok(*SUPERNET, "--out", out)
    ok(*SEARCH, "--out", out)
    return out


garbage = (st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=True)
           | st.text(max_size=5) | st.lists(st.integers(), max_size=2))


@st.composite
def broken_train_states(draw, state: dict) -> tuple[str, object]:
    """A train-state.pt edited by hand, broken by construction (fingerprint kept and the
    content re-sealed, so the defect is what is reported)."""
    s = {k: v for k, v in state.items() if k != "sha256"}
    field = draw(st.sampled_from(["top", "model", "model-key", "optimizer", "history",
                                  "history-rows", "epoch", "epoch-vs-history", "missing"]))
    if field == "top":
        return field, draw(garbage)
    if field == "model":
        s["model"] = draw(garbage | st.just({}))
    elif field == "model-key":
        model = dict(s["model"])
        key = draw(st.sampled_from(sorted(k for k, v in model.items() if v.dim() > 0)))
        model[key] = torch.zeros(*[d + 2 for d in model[key].shape])
        s["model"] = model
    elif field == "optimizer":
        s["optimizer"] = draw(garbage | st.just({}) | st.just({"state": {}, "param_groups": []}))
    elif field == "history":
        s["history"] = draw(garbage.filter(lambda v: not (isinstance(v, str) and _is_list(v)))
                            | st.just("{not json"))
    elif field == "history-rows":
        s["history"] = json.dumps(draw(st.lists(garbage, min_size=1, max_size=2)
                                       | st.just([{"epoch": 0}])))
    elif field == "epoch":
        s["epoch"] = draw(garbage.filter(lambda v: not (isinstance(v, int)
                                                        and not isinstance(v, bool) and v == 0)))
    elif field == "epoch-vs-history":
        s["epoch"] = draw(st.integers(1, 10**6))  # one epoch of history was written
    else:
        del s[draw(st.sampled_from(["model", "optimizer", "history", "epoch"]))]
    return field, seal_state(s)


def _is_list(text: str) -> bool:
    try:
        return isinstance(json.loads(text), list)
    except ValueError:
        return False


@given(data=st.data())
@HOSTILE
def test_hand_edited_train_state_is_one_line_naming_the_file(trained, tmp_path_factory, data):
    state = torch.load(trained / "train-state.pt", weights_only=True)
    field, obj = data.draw(broken_train_states(state))
    out = tmp_path_factory.mktemp("resume")
    for name in ("model.pt", "train.json"):
        (out / name).write_bytes((trained / name).read_bytes())
    torch.save(obj, out / "train-state.pt")
    before = snapshot(out)
    result = invoke(*TRAIN, "--epochs", "2", "--out", out, "--resume")
    assert_clean_error(result, str(out / "train-state.pt"))
    assert {k: v for k, v in snapshot(out).items() if k != ".autosnn.lock"} == before, field


def test_train_state_with_other_settings_names_the_file(trained, tmp_path):
    state = torch.load(trained / "train-state.pt", weights_only=True)
    state["fingerprint"] = "{}"
    torch.save(seal_state({k: v for k, v in state.items() if k != "sha256"}),
               tmp_path / "train-state.pt")
    result = invoke(*TRAIN, "--epochs", "2", "--out", tmp_path, "--resume")
    assert_clean_error(result, str(tmp_path / "train-state.pt"))
    assert "other settings" in result.output


@st.composite
def broken_search_states(draw, doc: dict) -> tuple[str, bytes]:
    d = json.loads(json.dumps(doc))
    del d["sha256"]
    field = draw(st.sampled_from(["top", "cache", "cache-row", "states", "state-field",
                                  "bytes"]))
    if field == "top":
        return field, json.dumps(draw(garbage)).encode()
    if field == "bytes":
        return field, draw(st.binary(min_size=1, max_size=30).filter(_not_json))
    if field == "cache":
        d["cache"] = draw(garbage.filter(lambda v: v != [] and v is not None) | st.just({}))
    elif field == "cache-row":
        d["cache"][0] = draw(garbage | st.just(["SRB_k3", 0.5]) | st.just([1, 2, 3, 4]))
    elif field == "states":
        d["states"] = draw(garbage.filter(lambda v: v is not None))
    else:
        key = next(iter(d["states"]))
        sub = draw(st.sampled_from(["pool", "top", "seen", "rounds", "rng_state"]))
        d["states"][key][sub] = draw(garbage.filter(lambda v: not isinstance(v, list)))
    return field, json.dumps(seal_state(d), allow_nan=True).encode()


def _not_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return True
    return False


@given(data=st.data())
@HOSTILE
def test_hand_edited_search_state_is_one_line_naming_the_file(searched, tmp_path_factory,
                                                               data):
    doc = json.loads((searched / "search-state.json").read_text())
    field, raw = data.draw(broken_search_states(doc))
    out = tmp_path_factory.mktemp("search-resume")
    for name in ("supernet.pt", "search.json"):
        (out / name).write_bytes((searched / name).read_bytes())
    (out / "search-state.json").write_bytes(raw)
    before = snapshot(out)
    result = invoke(*SEARCH, "--out", out, "--resume")
    assert_clean_error(result, str(out / "search-state.json"))
    assert {k: v for k, v in snapshot(out).items() if k != ".autosnn.lock"} == before, field


def test_resume_removes_stale_temp_files_and_only_then(trained, tmp_path):
    """A killed run leaves ``.<name>.<random>.tmp`` beside its outputs; ``--resume`` (holding
    the folder's lock) removes them, a fresh run leaves files it did not write alone."""
    for name in ("model.pt", "train.json", "train-state.pt"):
        (tmp_path / name).write_bytes((trained / name).read_bytes())
    stale = [tmp_path / ".train-state.pt.ab12cd34.tmp", tmp_path / ".act.npz.zz9_x0y1.tmp.npz"]
    keep = [tmp_path / "notes.tmp", tmp_path / ".hidden"]
    for p in stale + keep:
        p.write_bytes(b"partial")
    ok(*TRAIN, "--epochs", "2", "--out", tmp_path, "--resume")
    assert not any(p.exists() for p in stale)
    assert all(p.read_bytes() == b"partial" for p in keep)
    assert len(json.loads((tmp_path / "train.json").read_text())["history"]) == 2


def _edit_state(doc: dict, case: str) -> str:
    """The hand edits of issue 24, each applied to a valid search state and re-sealed;
    returns JSON text."""
    d = json.loads(json.dumps(doc))
    del d["sha256"]
    key = next(iter(d["states"]))
    state = d["states"][key]
    if case == "unknown block":
        state["seen"][0] = ["bogus"] * len(state["seen"][0])
    elif case == "1-slot genotype":
        state["top"][0] = state["top"][0][:1]
    elif case == "rng word 2**70":
        state["rng_state"][1][0] = 2**70
    elif case == "rng word -1":
        state["rng_state"][1][0] = -1
    elif case == "round Infinity":
        state["round"] = float("inf")
    elif case == "rounds Infinity":
        state["rounds"][0] = float("inf")
    elif case == "round 1e9":
        state["round"] = 10**9
    elif case == "round -5":
        state["round"] = -5
    elif case == "extra lambda":
        d["states"]["-0.5"] = state
    elif case == "cache names an unknown block":
        d["cache"][0][0] = "bogus," + d["cache"][0][0].split(",", 1)[1]
    return json.dumps(seal_state(d), allow_nan=True)


@pytest.mark.parametrize("case", [
    "unknown block", "1-slot genotype", "rng word 2**70", "rng word -1", "round Infinity",
    "rounds Infinity", "round 1e9", "round -5", "extra lambda", "cache names an unknown block",
])
def test_resume_from_an_edited_state_writes_nothing_and_names_the_file(searched, tmp_path, case):
    doc = json.loads((searched / "search-state.json").read_text())
    out = tmp_path / "out"
    out.mkdir()
    for name in ("supernet.pt", "search.json", "winner-0.json", "winner-0.pt"):
        if (searched / name).exists():
            (out / name).write_bytes((searched / name).read_bytes())
    (out / "search-state.json").write_text(_edit_state(doc, case))
    before = snapshot(out)
    result = invoke(*SEARCH, "--out", out, "--resume")
    assert_clean_error(result, str(out / "search-state.json"))
    assert {k: v for k, v in snapshot(out).items() if k != ".autosnn.lock"} == before, case
