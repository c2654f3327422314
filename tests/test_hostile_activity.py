"""Hostile activity files (``act.npz`` for ``hwsim estimate --activity``): object arrays, wrong
shapes and dtypes, NaN/inf/negative counts, unknown layer names, a missing or bad T / samples,
and files that are not npz at all. Each is exit code 2 with one line naming the file, no
traceback, and neither the activity file nor an earlier ``--plot`` output changes."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import nir
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from hwsim.cli import app as hwsim_app
from tests.test_hostile_checkpoints import HOSTILE, snapshot
from tests.test_hwsim_cli import tiny_graph

# the graph's spiking nodes and their neuron shapes (tests/test_hwsim_cli.tiny_graph)
SHAPES = {"input": (2, 6, 6), "stem.lif": (4, 6, 6), "fc.lif": (5,)}
T = 4


@pytest.fixture(scope="module")
def net_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("net") / "net.nir"
    nir.write(str(path), tiny_graph())
    return path


def valid_arrays() -> dict[str, np.ndarray]:
    return {**{k: np.ones(s) for k, s in SHAPES.items()}, "T": np.array(T),
            "samples": np.array(10)}


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


bad_counts = st.sampled_from([
    np.full((4, 6, 6), np.nan), np.full((4, 6, 6), np.inf), -np.ones((4, 6, 6)),
    np.ones((3, 6, 6)), np.ones((T + 1, 4, 6, 6)), np.array(1.0), np.array([], dtype=float),
    np.array(["a"] * 144), np.ones((4, 6, 6), dtype=complex), np.ones((4, 6, 6), dtype=bool)[:0],
])
bad_scalar = st.sampled_from([np.array(0), np.array(-4), np.array(2.5), np.array(np.nan),
                              np.array([4, 4]), np.array("4"), np.array(np.inf)])


@st.composite
def broken_activity(draw) -> tuple[str, bytes]:
    arrays = valid_arrays()
    kind = draw(st.sampled_from(["counts", "unknown-name", "T", "samples", "missing",
                                 "object", "not-npz", "truncated"]))
    if kind == "counts":
        arrays[draw(st.sampled_from(sorted(SHAPES)))] = draw(bad_counts)
    elif kind == "unknown-name":
        arrays[draw(st.text("abcxyz.", min_size=1, max_size=6).filter(
            lambda k: k not in SHAPES and k not in ("T", "samples")))] = np.ones(3)
    elif kind in ("T", "samples"):
        arrays[kind] = draw(bad_scalar)
    elif kind == "missing":
        del arrays[draw(st.sampled_from(["T", "samples"]))]
    elif kind == "object":  # a pickled object array inside the zip: never unpickled
        buf = io.BytesIO()
        np.savez(buf, **{**valid_arrays(), "stem.lif": np.array([{"a": 1}, None],
                                                                dtype=object)})
        return kind, buf.getvalue()
    elif kind == "not-npz":
        return kind, draw(st.binary(max_size=40) | st.just(b"PK\x03\x04garbage"))
    else:
        raw = npz_bytes(arrays)
        return kind, raw[: draw(st.integers(1, len(raw) - 1))]
    return kind, npz_bytes(arrays)


@given(case=broken_activity())
@HOSTILE
def test_malformed_activity_is_one_line_naming_the_file(net_file, tmp_path, case):
    kind, raw = case
    act = tmp_path / "act.npz"
    act.write_bytes(raw)
    plot = tmp_path / "mesh.png"
    plot.write_bytes(b"an earlier plot")
    before = snapshot(tmp_path)
    result = CliRunner().invoke(hwsim_app, ["estimate", str(net_file), "--chip", "loihi2",
                                            "--activity", str(act), "--plot", str(plot)])
    out = result.output.strip()
    assert result.exit_code == 2, (kind, result.exit_code, out, repr(result.exception))
    assert "\n" not in out and out.startswith("error: ") and "Traceback" not in out, out
    assert str(act) in out, out
    assert snapshot(tmp_path) == before, kind


def test_the_valid_activity_is_accepted(net_file, tmp_path):
    act = tmp_path / "act.npz"
    act.write_bytes(npz_bytes(valid_arrays()))
    result = CliRunner().invoke(hwsim_app, ["estimate", str(net_file), "--chip", "loihi2",
                                            "--activity", str(act), "--json"])
    assert result.exit_code == 0, result.output


def test_zip_bomb_member_names_are_not_trusted(net_file, tmp_path):
    """A zip whose member is not an .npy file is refused, not parsed."""
    act = tmp_path / "act.npz"
    with zipfile.ZipFile(act, "w") as z:
        z.writestr("T.npy", b"not an npy header")
    result = CliRunner().invoke(hwsim_app, ["estimate", str(net_file), "--activity", str(act)])
    assert result.exit_code == 2 and "Traceback" not in result.output


def _one_line_untouched(result, folder: Path, before: dict[str, str], *names: str) -> None:
    out = result.output.strip()
    assert result.exit_code == 2, (result.exit_code, out, repr(result.exception))
    assert "\n" not in out and out.startswith("error: ") and "Traceback" not in out, out
    for name in names:
        assert name in out, out
    assert snapshot(folder) == before


def test_a_npy_array_given_as_activity_is_one_line(net_file, tmp_path):
    act = tmp_path / "act.npy"
    np.save(act, np.ones((4, 6, 6)))
    before = snapshot(tmp_path)
    result = CliRunner().invoke(hwsim_app, ["estimate", str(net_file), "--activity", str(act)])
    _one_line_untouched(result, tmp_path, before, str(act), ".npz", ".npy")


def test_complex_spike_counts_are_refused_not_truncated_to_their_real_part(net_file, tmp_path):
    act = tmp_path / "act.npz"
    act.write_bytes(npz_bytes({**valid_arrays(), "fc.lif": np.ones(5) + 1j}))
    before = snapshot(tmp_path)
    result = CliRunner().invoke(hwsim_app, ["estimate", str(net_file), "--activity", str(act)])
    _one_line_untouched(result, tmp_path, before, str(act), "fc.lif", "real")


@pytest.mark.parametrize("t", ["0", "4", "8"])
def test_timesteps_beside_activity_is_refused_not_ignored(net_file, tmp_path, t):
    # the file's T is what is costed: a --timesteps beside it would be silently ignored
    act = tmp_path / "act.npz"
    act.write_bytes(npz_bytes(valid_arrays()))
    before = snapshot(tmp_path)
    result = CliRunner().invoke(hwsim_app, ["estimate", str(net_file), "--activity", str(act),
                                            "--timesteps", t])
    _one_line_untouched(result, tmp_path, before, "--timesteps")


def test_an_activity_T_beyond_the_cap_is_one_line(net_file, tmp_path):
    act = tmp_path / "act.npz"
    act.write_bytes(npz_bytes({"T": np.array(10**15), "samples": np.array(1)}))
    before = snapshot(tmp_path)
    result = CliRunner().invoke(hwsim_app, ["estimate", str(net_file), "--activity", str(act)])
    _one_line_untouched(result, tmp_path, before, str(act), "T", "at most")
