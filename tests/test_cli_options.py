"""Option values at the CLI boundary: out-of-range or non-finite values are refused before
anything runs (exit code 2, one line, no traceback, no output folder created), no ``x or
default`` turns 0 into the preset's value, and ``--help`` states each range."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from autosnn.app.cli import app
from autosnn.core.checkpoint import MAX_CHANNELS, MAX_TIMESTEPS
from tests.test_hostile_checkpoints import HOSTILE, assert_clean_error, invoke, snapshot

# (command prefix, option, lowest valid, highest valid); None = unbounded above
INT_OPTIONS = [
    (["supernet"], "--channels", 2, MAX_CHANNELS),
    (["supernet"], "--timesteps", 1, MAX_TIMESTEPS),
    (["supernet"], "--epochs", 1, 100_000),
    (["supernet"], "--batch-size", 1, 65_536),
    (["supernet"], "--limit", 1, 10**9),
    (["supernet"], "--seed", 0, 2**32 - 1),
    (["train", "--model", "cifarnet-fang"], "--cutout", 0, 1024),
    (["train", "--model", "cifarnet-fang"], "--channels", 2, MAX_CHANNELS),
    (["train", "--model", "cifarnet-fang"], "--timesteps", 1, MAX_TIMESTEPS),
    (["search"], "--rounds", 1, 100_000),
    (["search"], "--pool", 1, 1_000_000),
    (["search"], "--top-k", 1, 1_000_000),
    (["search"], "--mutations", 0, 1_000_000),
    (["search"], "--crossovers", 0, 1_000_000),
    (["search"], "--batch-size", 1, 65_536),
    (["search"], "--limit", 1, 10**9),
    (["search", "--chip", "loihi2"], "--max-cores", 1, None),
    (["eval", "x.pt"], "--batch-size", 1, 65_536),
    (["eval", "x.pt"], "--limit", 1, 10**9),
    (["summary"], "--channels", 2, MAX_CHANNELS),
    (["summary"], "--timesteps", 1, MAX_TIMESTEPS),
    (["summary"], "--classes", 1, 100_000),
]
# (command prefix, option, low, high, low excluded)
FLOAT_OPTIONS = [
    (["supernet"], "--spike-reg", 0.0, 100.0, False),
    (["train", "--model", "cifarnet-fang"], "--spike-reg", 0.0, 100.0, False),
    (["search"], "--mutation-prob", 0.0, 1.0, False),
    (["search", "--chip", "loihi2"], "--max-latency", 0.0, math.inf, True),
    (["search", "--chip", "loihi2"], "--max-energy", 0.0, math.inf, True),
    (["search", "--chip", "loihi2"], "--max-link-util", 0.0, 1.0, True),
    (["search"], "--lambda", -10.0, 0.0, False),
]


@st.composite
def bad_int_values(draw) -> tuple[list[str], str, str]:
    prefix, option, lo, hi = draw(st.sampled_from(INT_OPTIONS))
    value = draw(st.integers(-10**12, lo - 1).map(str)
                 | (st.integers(hi + 1, 10**15).map(str) if hi is not None else st.nothing())
                 | st.sampled_from(["abc", "1.5", "nan", "", "1e3", "0x10"]))
    return prefix, option, value


@st.composite
def bad_float_values(draw) -> tuple[list[str], str, str]:
    prefix, option, lo, hi, low_open = draw(st.sampled_from(FLOAT_OPTIONS))
    below = st.floats(max_value=lo, allow_nan=False, allow_infinity=False).filter(
        lambda v: v <= lo if low_open else v < lo)  # -0.0 == 0.0 is inside a closed range
    above = (st.floats(min_value=hi, exclude_min=True, allow_nan=False, allow_infinity=False)
             if math.isfinite(hi) else st.nothing())
    value = draw(below.map(repr) | above.map(repr)
                 | st.sampled_from(["nan", "inf", "-inf", "NaN", "-1e308", "1e309", "abc"]))
    return prefix, option, value


@given(case=bad_int_values() | bad_float_values())
@HOSTILE
def test_bad_option_value_is_refused_before_anything_runs(tmp_path, case):
    prefix, option, value = case
    out = tmp_path / "out"
    before = snapshot(tmp_path)
    args = [*prefix, f"{option}={value}"]
    if prefix[0] in ("supernet", "train", "search"):
        args += ["--out", str(out)]
    result = invoke(*args)
    assert_clean_error(result, option)
    assert not out.exists()
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("prefix,option,lo,hi", INT_OPTIONS)
def test_help_states_the_range(prefix, option, lo, hi):
    result = CliRunner().invoke(app, [prefix[0], "--help"], env={"COLUMNS": "300"})
    line = next(x for x in result.output.splitlines() if f" {option} " in x)
    assert str(lo) in line and (hi is None or f"{hi:,}".replace(",", "") in line
                                or f"{hi:_}".replace("_", "") in line), line


def test_zero_is_not_replaced_by_the_preset_default(tmp_path):
    """``--channels 0`` used to become 8 (``x or default``): now it is refused."""
    for option in ("--channels", "--timesteps", "--batch-size", "--limit", "--epochs"):
        result = invoke("supernet", option, "0", "--out", tmp_path / "out")
        assert_clean_error(result, option)
    result = invoke("train", "--model", "cifarnet-fang", "--cutout", "0", "--channels", "0",
                    "--out", tmp_path / "out")
    assert_clean_error(result, "--channels")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("prefix", [["supernet"], ["train", "--model", "cifarnet-fang"],
                                    ["search"], ["summary"]])
def test_odd_channels_are_refused_before_data_is_loaded(tmp_path, prefix):
    args = [*prefix, "--channels", "7"]
    if prefix[0] != "summary":
        args += ["--out", str(tmp_path / "out")]
    assert_clean_error(invoke(*args), "--channels", "even")
    assert not (tmp_path / "out").exists()


def test_unknown_choice_is_one_line(tmp_path):
    for args in (["supernet", "--neuron", "bogus"], ["supernet", "--precision", "fp64"],
                 ["train", "--model", "nope"], ["eval", "x.pt", "--split", "dev"]):
        assert_clean_error(invoke(*args, *(["--out", tmp_path / "o"] if args[0] != "eval"
                                          else [])), args[-2])


def test_bad_device_is_refused_before_the_output_folder_is_made(tmp_path):
    out = tmp_path / "out"
    assert_clean_error(invoke("supernet", "--device", "tpu:9", "--out", out), "--device")
    assert not out.exists()


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("autosnn ")
    from hwsim.cli import app as hwsim_app

    result = CliRunner().invoke(hwsim_app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("hwsim ")
    assert result.output.split()[1][0].isdigit()


@pytest.mark.parametrize("args", [["--bogus"], ["bogus"], ["search", "--bogus"]])
def test_a_usage_error_at_any_level_is_one_line(args):
    from typer.testing import CliRunner

    from autosnn.app.cli import app

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    out = result.output.strip()
    assert out.startswith("error: ") and "\n" not in out, out


def test_experiment_list_refuses_options_it_would_ignore():
    from typer.testing import CliRunner

    from autosnn.app.cli import app

    result = CliRunner().invoke(app, ["experiment", "list", "--epochs", "5"])
    assert result.exit_code == 2 and "takes no --epochs" in result.output
    result = CliRunner().invoke(app, ["experiment", "list", "--epochs", "-5"])
    assert result.exit_code == 2 and result.output.strip().startswith("error: ")


def test_a_second_experiment_on_one_out_folder_is_refused(tmp_path):
    from typer.testing import CliRunner

    from autosnn.app.cli import app
    from safeio import out_lock

    with out_lock(tmp_path, "first experiment"):
        result = CliRunner().invoke(app, ["experiment", "table1", "--out", str(tmp_path),
                                          "--dataset", "synthetic", "--limit", "8"])
    assert result.exit_code == 2 and "another run is writing" in result.output
