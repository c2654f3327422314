"""hwsim CLI and activity files: JSON output, plots, one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import nir
import numpy as np
import pytest
from typer.testing import CliRunner

from hwsim import HwsimInputError, load_activity, network_from_nir
from hwsim.cli import app
from tests.test_hostile_checkpoints import snapshot
from tests.test_hwsim_model import conv2d, lif

runner = CliRunner()


def tiny_graph() -> nir.NIRGraph:
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([2, 6, 6])}),
            "stem.conv": conv2d((6, 6), (4, 2, 3, 3), padding=1),
            "stem.lif": lif((4, 6, 6)),
            "flat": nir.Flatten(input_type={"input": np.array([4, 6, 6])}, start_dim=0),
            "fc": nir.Linear(weight=np.ones((5, 144))),
            "fc.lif": lif((5,)),
            "output": nir.Output(output_type={"output": np.array([5])}),
        },
        edges=[
            ("input", "stem.conv"),
            ("stem.conv", "stem.lif"),
            ("stem.lif", "flat"),
            ("flat", "fc"),
            ("fc", "fc.lif"),
            ("fc.lif", "output"),
        ],
    )


@pytest.fixture
def net_file(tmp_path: Path) -> Path:
    path = tmp_path / "net.nir"
    nir.write(str(path), tiny_graph())
    return path


def write_act(path: Path, **arrays: object) -> Path:
    np.savez(path, **arrays)
    return path


def test_estimate_json_has_the_cost_record(net_file: Path, tmp_path: Path) -> None:
    act = write_act(
        tmp_path / "act.npz",
        **{"input": np.ones((2, 6, 6)), "stem.lif": np.full((4, 6, 6), 2.0), "fc.lif": np.zeros(5)},
        T=np.array(4),
        samples=np.array(10),
    )
    result = runner.invoke(
        app, ["estimate", str(net_file), "--chip", "loihi2", "--activity", str(act), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["feasible"] is True and data["chip"] == "loihi2" and data["timesteps"] == 4
    # measured: 72 input spikes, 288 stem spikes, 0 fc spikes per sample
    assert data["spikes"] == pytest.approx(288.0)
    assert data["links"] and all(link["load_per_step"] > 0 for link in data["links"])
    assert sum(len(c) for c in data["cores_of_layer"].values()) == data["cores_used"]
    for key in (
        "energy_synops_j",
        "energy_neurons_j",
        "energy_routing_j",
        "energy_static_j",
        "time_per_timestep_s",
        "max_link_utilisation",
        "hops",
        "messages",
        "layers",
    ):
        assert key in data


def test_estimate_plot_writes_a_png(net_file: Path, tmp_path: Path) -> None:
    png = tmp_path / "mesh.png"
    result = runner.invoke(
        app,
        [
            "estimate",
            str(net_file),
            "--chip",
            "loihi",
            "--plot",
            str(png),
            "--placement",
            "sequential",
        ],
    )
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_estimate_with_profile_path(net_file: Path) -> None:
    from hwsim.chip import builtin_chip_dir

    path = builtin_chip_dir() / "truenorth.yaml"
    result = runner.invoke(app, ["estimate", str(net_file), "--chip", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["chip"] == "truenorth"


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.output


def test_unreadable_nir_is_one_line_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.nir"
    bogus.write_text("not hdf5")
    assert_one_line_error(runner.invoke(app, ["estimate", str(bogus)]), str(bogus), "file")


def test_bad_profile_is_one_line_error(net_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    assert_one_line_error(
        runner.invoke(app, ["estimate", str(net_file), "--chip", str(bad)]), str(bad), "description"
    )


def test_activity_with_wrong_size_is_one_line_error(net_file: Path, tmp_path: Path) -> None:
    act = write_act(
        tmp_path / "act.npz", **{"stem.lif": np.ones(7)}, T=np.array(8), samples=np.array(1)
    )
    assert_one_line_error(
        runner.invoke(app, ["estimate", str(net_file), "--activity", str(act)]),
        str(act),
        "stem.lif",
        "144",
    )


def test_activity_missing_T_names_the_field(tmp_path: Path) -> None:
    act = write_act(tmp_path / "act.npz", samples=np.array(1))
    with pytest.raises(HwsimInputError) as err:
        load_activity(act)
    assert err.value.field == "T"


@pytest.mark.parametrize("t", [np.inf, np.nan, 1 + 2j, 2.5, 0])
def test_activity_bad_T_is_one_line_error(net_file: Path, tmp_path: Path, t: object) -> None:
    act = write_act(tmp_path / "act.npz", T=np.array(t), samples=np.array(1))
    assert_one_line_error(
        runner.invoke(app, ["estimate", str(net_file), "--activity", str(act)]),
        str(act),
        "T: a positive integer scalar",
    )


def test_activity_rejects_negative_counts_and_unknown_names(tmp_path: Path) -> None:
    net = network_from_nir(tiny_graph())
    neg = write_act(
        tmp_path / "neg.npz", **{"fc.lif": -np.ones(5)}, T=np.array(8), samples=np.array(1)
    )
    with pytest.raises(HwsimInputError, match="non-negative"):
        load_activity(neg, net)
    unknown = write_act(tmp_path / "unk.npz", nope=np.ones(5), T=np.array(8), samples=np.array(1))
    with pytest.raises(HwsimInputError, match="nope"):
        load_activity(unknown, net)


def test_activity_counts_are_kept_per_node(tmp_path: Path) -> None:
    act = load_activity(
        write_act(
            tmp_path / "a.npz", **{"fc.lif": np.arange(5.0)}, T=np.array(16), samples=np.array(3)
        ),
        network_from_nir(tiny_graph()),
    )
    assert act.timesteps == 16 and act.samples == 3
    np.testing.assert_array_equal(act.counts["fc.lif"], np.arange(5.0))


def test_chips_lists_every_profile() -> None:
    result = runner.invoke(app, ["chips"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in ("loihi", "loihi2", "truenorth", "spinnaker2", "speck", "generic-mesh"):
        assert name in result.stdout


def test_synthetic_json_keys_and_values() -> None:
    result = runner.invoke(
        app, ["synthetic", "--mesh", "4x4", "--pattern", "uniform", "--rate", "0.2", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"mean_hops", "mean_latency_cycles", "max_link_utilisation", "saturated"} <= set(data)
    assert data["mean_hops"] == pytest.approx(2 * 15 / 12)  # 2(k^2-1)/(3k), k = 4
    assert data["max_link_utilisation"] == pytest.approx(0.2 * 4 / 4)  # rate * k / 4
    assert data["saturated"] is False


def test_synthetic_saturated_latency_is_null() -> None:
    result = runner.invoke(app, ["synthetic", "--mesh", "4x4", "--rate", "1.5", "--json"])
    data = json.loads(result.stdout)
    assert data["saturated"] is True and data["mean_latency_cycles"] is None


def test_synthetic_bad_mesh_is_one_line_error() -> None:
    assert_one_line_error(runner.invoke(app, ["synthetic", "--mesh", "8by8"]), "--mesh")


# -- issue 24: every option or usage error is one line, exit 2; --plot never replaces an input --
def assert_one_line_no_box(result) -> None:
    """Exit 2, one line ``error: ...`` on stderr, nothing else: no usage box, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.output.strip().count("\n") == 0, result.output
    assert result.stderr.startswith("error: "), result.output
    for box in ("Usage:", "╭", "Traceback"):
        assert box not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["--bogus"],
        ["no-such-command"],
        ["estimate"],
        ["estimate", "{net}", "--bogus"],
        ["estimate", "{net}", "--placement", "nowhere"],
        ["estimate", "{net}", "--rate", "x"],
        ["estimate", "{net}", "--timesteps", "0"],
        ["estimate", "{net}", "--timesteps", "2000000"],
        ["estimate", "{net}", "--max-cores", "0"],
        ["estimate", "{net}", "--engine", "quantum"],
        ["estimate", "{net}", "--engine", "sanafe", "--validate"],  # would be ignored
        ["estimate", "{net}", "--engine", "sanafe", "--max-cores", "4"],
        ["estimate", "{net}", "--rate", "nan"],
        ["estimate", "{net}", "--rate", "1.5"],
        ["compare", "{net}", "--timesteps", "x"],
        ["compare", "{net}", "--chips", " , "],
        ["fit", "{net}", "--bogus"],
        ["fit", "{net}", "--widths", "a,b"],
        ["chips", "--extra"],
        ["synthetic", "--pattern", "zigzag"],
    ],
)
def test_option_and_usage_errors_are_one_line_without_a_usage_box(
    net_file: Path, args: list[str]
) -> None:
    args = [a.replace("{net}", str(net_file)) for a in args]
    assert_one_line_no_box(runner.invoke(app, args))


def test_hwsim_alone_still_prints_the_help() -> None:
    result = runner.invoke(app, [])
    assert "Usage" in result.output and "estimate" in result.output


def test_exceptions_are_not_rich_formatted() -> None:
    # rich's traceback box hides the frames a bug report needs and is many screens long
    assert app.pretty_exceptions_enable is False


@pytest.fixture
def act_file(tmp_path: Path) -> Path:
    return write_act(tmp_path / "act.npz", **{"fc.lif": np.ones(5)}, T=np.array(8),
                     samples=np.array(1))


@pytest.mark.parametrize("command", ["estimate", "compare"])
@pytest.mark.parametrize("role", ["graph", "activity", "chip"])
def test_plot_onto_one_of_the_inputs_is_refused_and_the_input_kept(
    net_file: Path, act_file: Path, tmp_path: Path, command: str, role: str
) -> None:
    chip = tmp_path / "chip.yaml"
    from hwsim.chip import builtin_chip_dir

    chip.write_bytes((builtin_chip_dir() / "loihi2.yaml").read_bytes())
    target = {"graph": net_file, "activity": act_file, "chip": chip}[role]
    before = snapshot(tmp_path)
    chip_option = ["--chip", str(chip)] if command == "estimate" else ["--chips", str(chip)]
    result = runner.invoke(app, [command, str(net_file), "--activity", str(act_file),
                                 *chip_option, "--plot", str(target)])
    assert_one_line_no_box(result)
    assert "also an input" in result.stderr
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("kind", ["fifo", "device", "folder", "missing-folder", "under-a-file",
                                  "300-characters"])
def test_unusable_plot_paths_are_one_line_before_any_work(
    net_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    import os

    import hwsim.cli.estimate

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("the graph was costed before --plot was checked")

    monkeypatch.setattr(hwsim.cli.estimate, "estimate", no_work)
    (tmp_path / "a-file").write_text("keep me")
    if kind == "fifo":
        os.mkfifo(tmp_path / "p.fifo")
    plot = {
        "fifo": tmp_path / "p.fifo",
        "device": Path("/dev/full"),
        "folder": tmp_path,
        "missing-folder": tmp_path / "missing" / "mesh.png",
        "under-a-file": tmp_path / "a-file" / "mesh.png",
        "300-characters": tmp_path / ("m" * 300 + ".png"),
    }[kind]
    before = snapshot(tmp_path)
    assert_one_line_no_box(runner.invoke(app, ["estimate", str(net_file), "--plot", str(plot)]))
    assert snapshot(tmp_path) == before
    assert Path("/dev/full").is_char_device()
    if kind == "fifo":
        assert (tmp_path / "p.fifo").is_fifo()


def test_a_board_plot_checks_every_chip_picture_against_the_inputs(
    net_file: Path, tmp_path: Path
) -> None:
    # a board profile writes mesh.png and mesh-chip<k>.png: none may be an input either
    from hwsim import estimate, network_from_nir
    from hwsim.plot import plot_mesh
    from safeio import OutputError

    rec = estimate(network_from_nir(tiny_graph()), None, "loihi2-kapoho-point")
    victim = tmp_path / "mesh-chip0.png"
    victim.write_bytes(b"an input")
    with pytest.raises(OutputError, match="also an input"):
        plot_mesh(rec, tmp_path / "mesh.png", inputs=[victim])
    assert victim.read_bytes() == b"an input" and not (tmp_path / "mesh.png").exists()
