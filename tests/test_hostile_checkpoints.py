"""Hostile checkpoints: every malformed file a user can hand to ``autosnn summary``, ``eval`` or
``train --winner`` ends as exit code 2 with one line naming the file, never a traceback, and no
file that existed before the command is changed.

The cases are generated (hypothesis) from one valid checkpoint: the top-level object, ``meta``,
``meta.config``, ``meta.extra`` and ``state_dict`` of the wrong type or with a malformed field,
sizes that would allocate too much, and files that are not checkpoints at all. Each case is
broken by construction, so "exit 0" is always a failure.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import autosnn
from autosnn.app.cli import app
from autosnn.core.checkpoint import FORMAT, MAX_CHANNELS, MAX_TIMESTEPS

pytestmark = pytest.mark.usefixtures("one_thread")

GENOTYPE = "SRB_k3,skip,SCB_k3,SCB_k3,skip"
HOSTILE = settings(max_examples=60, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.function_scoped_fixture,
                                          HealthCheck.too_slow])

# JSON values of every kind, for fields that must hold something else.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                 max_size=3),
    max_leaves=6,
)


def snapshot(folder: Path) -> dict[str, str]:
    """Hash of every file under ``folder``: "no earlier file changed" is equality of two."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_clean_error(result: Any, *names: str) -> None:
    """Exit code 2, exactly one line ``error: ...`` naming one of ``names``, no traceback."""
    out = result.output.strip()
    assert result.exit_code == 2, f"exit {result.exit_code}: {out!r} {result.exception!r}"
    assert "\n" not in out and out.startswith("error: "), out
    assert "Traceback" not in out
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    if names:
        assert any(n in out for n in names), out


def invoke(*args: str | Path) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def valid(tmp_path_factory) -> dict:
    """The parts of one valid checkpoint (meta as a dict, state_dict) and its file."""
    folder = tmp_path_factory.mktemp("valid")
    net = autosnn.build("snn1", GENOTYPE, channels=2, num_classes=3, input_shape=(3, 32, 32),
                        timesteps=1)
    autosnn.save(net, folder / "net.pt", extra={"note": "valid"})
    obj = torch.load(folder / "net.pt", weights_only=True)
    return {"meta": json.loads(obj["meta"]), "state_dict": obj["state_dict"],
            "path": folder / "net.pt"}


def test_the_valid_checkpoint_is_accepted(valid):
    """The base every hostile case is derived from loads, so the cases fail for their defect."""
    result = invoke("summary", valid["path"], "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["params"] > 0


# -- generators of broken checkpoints ---------------------------------------------------------
CONFIG_FIELDS = ("kind", "name", "channels", "num_classes", "input_shape", "timesteps",
                 "genotype", "candidates", "neuron")


def _bad_for(field: str) -> st.SearchStrategy:
    """Values that are wrong for ``field`` of meta.config (type or size)."""
    not_int = json_values.filter(lambda v: isinstance(v, bool) or not isinstance(v, int))
    sizes = {"channels": (MAX_CHANNELS, 0), "timesteps": (MAX_TIMESTEPS, 0),
             "num_classes": (100_000, 0)}
    if field in sizes:
        hi, lo = sizes[field]
        return not_int | st.integers(hi + 1, 10**12) | st.integers(-10**6, lo)
    if field == "input_shape":
        return (json_values.filter(lambda v: not isinstance(v, list) or len(v) != 3)
                | st.tuples(st.just(3), st.integers(1025, 10**9), st.just(32)).map(list)
                | st.tuples(st.just(3), st.just(32), st.just(31)).map(list)  # unsupported size
                | st.lists(st.text(max_size=3), min_size=3, max_size=3))
    if field == "kind":
        return json_values.filter(lambda v: v not in ("space",))
    if field == "name":
        return json_values.filter(lambda v: v != "snn1")
    if field == "genotype":
        return (json_values.filter(lambda v: v is not None and v not in (GENOTYPE,
                                                                          GENOTYPE.split(",")))
                | st.just("SRB_k3,bogus,skip,skip,skip") | st.just(["SRB_k3"]))
    if field == "neuron":
        return json_values.filter(lambda v: v != "plif")
    # candidates: neither None nor a list of names (a space network ignores valid ones)
    return json_values.filter(lambda v: v is not None and not isinstance(v, str) and not (
        isinstance(v, list) and v and all(isinstance(x, str) and x for x in v)))


@st.composite
def broken_checkpoints(draw, valid: dict) -> tuple[str, Any]:
    """(what is broken, the object to torch.save) — broken by construction."""
    meta, state = json.loads(json.dumps(valid["meta"])), dict(valid["state_dict"])
    kind = draw(st.sampled_from([
        "top", "meta-type", "meta-json", "meta-not-object", "format", "config-field",
        "config-missing", "config-extra-key", "extra-type", "state-type", "state-value",
        "state-missing", "state-shape",
    ]))
    if kind == "top":
        return kind, draw(json_values.filter(lambda v: not isinstance(v, dict))
                          | st.just({"meta": json.dumps(meta)}) | st.just({"state_dict": state}))
    if kind == "meta-type":
        bad = draw(st.sampled_from([0, 1.5, None, [], {}, b"{}", torch.zeros(2)]))
        return kind, {"meta": bad if not isinstance(bad, dict) else meta, "state_dict": state}
    if kind == "meta-json":
        text = draw(st.text(max_size=20).filter(lambda t: not _is_json(t)))
        return kind, {"meta": text, "state_dict": state}
    if kind == "meta-not-object":
        value = draw(json_values.filter(lambda v: not isinstance(v, dict)))
        return kind, {"meta": json.dumps(value), "state_dict": state}
    if kind == "format":
        meta["format"] = draw(json_values.filter(lambda v: v != FORMAT))
    elif kind == "config-field":
        field = draw(st.sampled_from(CONFIG_FIELDS))
        meta["config"][field] = draw(_bad_for(field))
    elif kind == "config-missing":
        del meta["config"][draw(st.sampled_from(["kind", "name"]))]
    elif kind == "config-extra-key":
        meta["config"][draw(st.text(min_size=1, max_size=6).filter(
            lambda k: k not in CONFIG_FIELDS))] = draw(json_values)
    elif kind == "extra-type":
        meta["extra"] = draw(json_values.filter(lambda v: not isinstance(v, dict)))
    elif kind == "state-type":
        state = draw(st.sampled_from([None, [], "weights", 3, torch.zeros(3)]))
    elif kind == "state-value":
        key = draw(st.sampled_from(sorted(state)))
        state[key] = draw(st.sampled_from([None, 1.0, "x", [1, 2], {"a": torch.zeros(1)}]))
    elif kind == "state-missing":
        del state[draw(st.sampled_from(sorted(state)))]
    else:
        key = draw(st.sampled_from(sorted(k for k, v in state.items() if v.dim() > 0)))
        state[key] = torch.zeros(*[d + 1 for d in state[key].shape])
    try:
        text = json.dumps(meta, allow_nan=True)
    except (TypeError, ValueError):
        text = "{"
    return kind, {"meta": text, "state_dict": state}


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@given(data=st.data())
@HOSTILE
def test_malformed_checkpoint_is_one_line_naming_the_file(valid, tmp_path, data):
    kind, obj = data.draw(broken_checkpoints(valid))
    case = tmp_path / f"case-{abs(hash(kind))}"
    case.mkdir(exist_ok=True)
    path = case / "bad.pt"
    torch.save(obj, path)
    earlier = case / "report.json"
    earlier.write_text('{"earlier": true}\n')
    before = snapshot(case)
    command = data.draw(st.sampled_from(["summary", "eval", "winner"]))
    if command == "summary":
        result = invoke("summary", path)
    elif command == "eval":
        result = invoke("eval", path, "--dataset", "synthetic", "--limit", "4", "--json",
                        case / "new.json", "--device", "cpu")
    else:
        result = invoke("train", "--winner", path, "--dataset", "synthetic", "--limit", "4",
                        "--epochs", "1", "--out", case / "train", "-q", "--device", "cpu")
    assert_clean_error(result, str(path))
    assert snapshot(case) == before, kind
    assert not (case / "new.json").exists() and not (case / "train" / "model.pt").exists()


@given(raw=st.one_of(
    st.binary(max_size=64),
    st.text(max_size=40).map(str.encode),
    st.just(b"PK\x03\x04" + b"\x00" * 20),          # a zip header and nothing else
    st.just(b"\x80\x04K\x01."),                      # a pickle of the int 1
    st.just(b"\x80\x02}q\x00."),                     # a pickle of an empty dict
    st.just(json.dumps({"meta": "{}", "state_dict": {}}).encode()),
))
@HOSTILE
def test_file_that_is_not_a_checkpoint_is_reported_as_such(tmp_path, raw):
    path = tmp_path / "x.pt"
    path.write_bytes(raw)
    result = invoke("summary", path)
    assert_clean_error(result, str(path))
    # only a file torch could start to read is blamed for its content
    if not raw.startswith((b"PK\x03\x04", b"\x80")):
        assert "not a checkpoint" in result.output
    assert "holds more than tensors" not in result.output
    assert path.read_bytes() == raw


def test_truncated_checkpoint_is_one_line(valid, tmp_path):
    data = valid["path"].read_bytes()
    for cut in (10, len(data) // 2, len(data) - 5):
        path = tmp_path / f"cut{cut}.pt"
        path.write_bytes(data[:cut])
        assert_clean_error(invoke("summary", path), str(path))


def test_pickled_code_is_refused_as_more_than_tensors(tmp_path):
    class Payload:
        def __reduce__(self):  # would run os.system on an unsafe load
            import os
            return os.system, ("touch " + str(tmp_path / "pwned"),)

    path = tmp_path / "evil.pt"
    torch.save({"meta": Payload(), "state_dict": {}}, path)
    result = invoke("summary", path)
    assert_clean_error(result, str(path))
    assert "holds more than tensors" in result.output
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("field,value", [("channels", 10**6), ("timesteps", 10**5),
                                         ("input_shape", [3, 10**6, 10**6])])
def test_huge_config_is_refused_before_allocating(valid, tmp_path, field, value):
    """10^6 channels would need terabytes: refused from the numbers, nothing is built."""
    meta = json.loads(json.dumps(valid["meta"]))
    meta["config"][field] = value
    path = tmp_path / "huge.pt"
    torch.save({"meta": json.dumps(meta), "state_dict": valid["state_dict"]}, path)
    result = invoke("summary", path)
    assert_clean_error(result, str(path))
    assert f"meta.config.{field}" in result.output


def test_nan_in_meta_json_is_not_silently_accepted(valid, tmp_path):
    meta = json.loads(json.dumps(valid["meta"]))
    meta["config"]["channels"] = math.nan
    path = tmp_path / "nan.pt"
    torch.save({"meta": json.dumps(meta), "state_dict": valid["state_dict"]}, path)
    assert_clean_error(invoke("summary", path), "meta.config.channels")
