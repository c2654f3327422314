"""Hostile inputs: each one is a one-line error (exit code 2 at the CLI) or simply works."""

from __future__ import annotations

import time
from pathlib import Path

import nir
import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from hwsim import HwsimInputError, estimate, load_chip, network_from_nir
from hwsim.chip import builtin_chip_dir
from hwsim.cli import app
from tests.test_hostile_checkpoints import snapshot
from tests.test_hwsim_cli import assert_one_line_error, tiny_graph
from tests.test_hwsim_model import conv2d, lif

runner = CliRunner()


def diamonds(k: int) -> nir.NIRGraph:
    """A -> k diamonds of two parallel Scale paths -> B: 2^k distinct paths from A to B."""
    nodes: dict[str, nir.NIRNode] = {
        "input": nir.Input(input_type={"input": np.array([4])}),
        "A": lif((4,)),
        "w": nir.Linear(weight=np.ones((4, 4))),
        "B": lif((4,)),
        "output": nir.Output(output_type={"output": np.array([4])}),
    }
    edges = [("input", "A"), ("B", "output")]
    prev = "A"
    for i in range(k):
        for side in ("l", "r"):
            nodes[f"s{i}{side}"] = nir.Scale(scale=np.ones(4))
            edges.append((prev, f"s{i}{side}"))
        nodes[f"j{i}"] = nir.Scale(scale=np.ones(4))
        edges += [(f"s{i}l", f"j{i}"), (f"s{i}r", f"j{i}")]
        prev = f"j{i}"
    edges += [(prev, "w"), ("w", "B")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


def test_parallel_pass_through_paths_are_walked_once() -> None:
    t0 = time.perf_counter()
    net = network_from_nir(diamonds(40))  # 2^40 paths if walked path by path
    assert time.perf_counter() - t0 < 2.0
    projs = [p for p in net.projections if p.src == "A"]
    assert len(projs) == 1  # one projection A -> B through w, not one per path
    rec = estimate(net, None, "loihi2")
    # 4 A neurons x 0.1 spikes/step x 8 steps, each reaching the 4 B neurons once
    assert rec.layers[1].name == "A" and rec.synops == pytest.approx(4 * 0.8 * 4 + 4 * 0.8)


def test_graph_without_nodes_is_an_error_not_feasible(tmp_path: Path) -> None:
    path = tmp_path / "empty.nir"
    nir.write(str(path), nir.NIRGraph(nodes={}, edges=[]))
    assert_one_line_error(runner.invoke(app, ["estimate", str(path)]), str(path), "nodes")


def test_huge_input_node_is_refused(tmp_path: Path) -> None:
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([10**6, 10**6])}),
            "A": lif((2,)),
        },
        edges=[],
    )
    with pytest.raises(HwsimInputError, match="at most"):
        network_from_nir(graph)


def _profile(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "chip.yaml"
    path.write_text(text)
    return path


def test_chip_with_huge_mesh_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load((builtin_chip_dir() / "generic-mesh.yaml").read_text())
    data["mesh"]["rows"] = {"value": 10**8, "source": "hostile"}
    path = _profile(tmp_path, yaml.safe_dump(data))
    with pytest.raises(HwsimInputError, match="mesh"):
        load_chip(path)


def test_duplicate_yaml_key_is_refused(tmp_path: Path) -> None:
    text = (builtin_chip_dir() / "generic-mesh.yaml").read_text()
    path = _profile(tmp_path, text + "name: again\n")
    with pytest.raises(HwsimInputError, match="duplicate"):
        load_chip(path)


def test_deeply_nested_yaml_is_one_error(tmp_path: Path) -> None:
    path = _profile(tmp_path, "name: " + "[" * 20000 + "]" * 20000 + "\n")
    with pytest.raises(HwsimInputError) as err:
        load_chip(path)
    assert str(path) in str(err.value)


def test_exponent_without_dot_or_sign_reads_as_a_number(tmp_path: Path) -> None:
    text = (builtin_chip_dir() / "generic-mesh.yaml").read_text()
    data = yaml.safe_load(text)
    data["routing"]["link_bandwidth_spikes_per_s"] = {"value": "PLACEHOLDER", "source": "t"}
    dumped = yaml.safe_dump(data).replace("PLACEHOLDER", "3.44e9")
    chip = load_chip(_profile(tmp_path, dumped))
    assert chip.link_bandwidth_spikes_per_s == 3.44e9


@pytest.mark.parametrize(
    "args",
    [
        ["--rate", "nan"],
        ["--rate", "inf"],
        ["--router-cycles", "-5"],
        ["--link-cycles", "nan"],
        ["--mesh", "100x100"],
        ["--hotspot-fraction", "nan", "--pattern", "hotspot"],
    ],
)
def test_synthetic_bad_options_are_one_line_errors(args: list[str]) -> None:
    assert_one_line_error(runner.invoke(app, ["synthetic", *args]))


@pytest.mark.parametrize("args", [["--rate", "0"], ["--mesh", "1x1"]])
def test_synthetic_edge_cases_work(args: list[str]) -> None:
    res = runner.invoke(app, ["synthetic", "--json", *args])
    assert res.exit_code == 0, res.output
    assert '"saturated": false' in res.stdout


def test_timesteps_option_against_graph_metadata_is_one_line_error(tmp_path: Path) -> None:
    g = tiny_graph()
    graph = nir.NIRGraph(nodes=g.nodes, edges=g.edges, metadata={"T": 4})
    path = tmp_path / "t4.nir"
    nir.write(str(path), graph)
    res = runner.invoke(app, ["estimate", str(path), "--timesteps", "8"])
    assert_one_line_error(res, "8", "T = 4")


@pytest.mark.parametrize("role", ["graph", "chip", "activity"])
def test_a_fifo_is_refused_without_blocking(tmp_path: Path, role: str) -> None:
    # reading a FIFO blocks until a writer appears: the CLI must refuse it, not hang
    import os
    import threading

    graph = tmp_path / "net.nir"
    nir.write(str(graph), tiny_graph())
    fifo = tmp_path / f"{role}.fifo"
    os.mkfifo(fifo)
    args = {"graph": [str(fifo)], "chip": [str(graph), "--chip", str(fifo)],
            "activity": [str(graph), "--activity", str(fifo)]}[role]
    box: list = []
    worker = threading.Thread(target=lambda: box.append(runner.invoke(app, ["estimate", *args])),
                              daemon=True)
    worker.start()
    worker.join(timeout=20)
    if not box:  # unblock the reader so the thread can end, then fail
        with open(fifo, "w"):
            pass
        pytest.fail(f"hwsim estimate blocked on a FIFO given as the {role}")
    assert_one_line_error(box[0], str(fifo), "regular file")


def _crop_then_conv_graph(second: nir.NIRNode, out: tuple[int, ...] = (4, 32, 32)) -> nir.NIRGraph:
    """N-MNIST's 34x34 -> 32x32 centre crop as autosnn writes it (a one-tap selector conv)
    followed by a weight node, with no spiking node between them."""
    select = np.zeros((2, 2, 3, 3))
    select[0, 0, 1, 1] = select[1, 1, 1, 1] = 1.0
    crop = nir.Conv2d(input_shape=(34, 34), weight=select, stride=1, padding=0, dilation=1,
                      groups=1, bias=np.zeros(2))
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([2, 34, 34])}), "crop": crop,
               "conv": second, "lif": lif(out),
               "output": nir.Output(output_type={"output": np.array(out)})},
        edges=[("input", "crop"), ("crop", "conv"), ("conv", "lif"), ("lif", "output")],
    )


def test_a_crop_selector_before_the_stem_conv_composes_to_one_valid_conv() -> None:
    conv = nir.Conv2d(input_shape=(32, 32), weight=np.ones((4, 2, 3, 3)), stride=1, padding=1,
                      dilation=1, groups=1, bias=np.zeros(4))
    net = network_from_nir(_crop_then_conv_graph(conv))
    (proj,) = [p for p in net.projections if p.dst == "lif"]
    # output (i, j) reads cropped (i-1..i+1) = original rows i..i+2: a 3x3 valid conv on 34x34
    assert (proj.kernel, proj.padding, proj.stride) == ((3, 3), (0, 0), (1, 1))
    assert proj.in_chw == (2, 34, 34) and proj.out_chw == (4, 32, 32)
    assert estimate(net, None, "loihi2").feasible


def test_a_pool_after_a_conv_without_a_spiking_node_is_still_refused() -> None:
    pool = nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                         padding=np.array([0, 0]))
    with pytest.raises(HwsimInputError, match="one weight node between spiking layers"):
        network_from_nir(_crop_then_conv_graph(pool, (2, 16, 16)))


# -- issue 24: sizes bounded before allocating, one line naming the figure ----------------------
def _nir(tmp_path: Path, graph: nir.NIRGraph, name: str = "g.nir") -> Path:
    path = tmp_path / name
    nir.write(str(path), graph)
    return path


def _refused(args: list[str], folder: Path, *fragments: str) -> None:
    before = snapshot(folder)
    t0 = time.perf_counter()
    result = runner.invoke(app, args)
    assert time.perf_counter() - t0 < 20  # said before allocating, not after swapping
    assert_one_line_error(result, *fragments)
    assert snapshot(folder) == before


def test_graph_metadata_T_of_1e15_is_refused_before_allocating(tmp_path: Path) -> None:
    g = tiny_graph()
    path = _nir(tmp_path, nir.NIRGraph(nodes=g.nodes, edges=g.edges, metadata={"T": 1e15}))
    _refused(["estimate", str(path)], tmp_path, str(path), "metadata.T", "at most")


def test_T_times_neurons_beyond_the_memory_budget_is_refused_with_the_figure(
    tmp_path: Path,
) -> None:
    path = _nir(tmp_path, tiny_graph())
    # 221 neurons x 2^20 steps x 96 bytes = 20.7 GiB: the figure, not a MemoryError
    _refused(["estimate", str(path), "--timesteps", str(1 << 20)], tmp_path, "GiB", "1048576")


def _wide_graph() -> nir.NIRGraph:
    """input 2x16x16 -> conv -> LIF 4x16x16 -> fc -> LIF 5: width 4."""
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([2, 16, 16])}),
            "conv": conv2d((16, 16), (4, 2, 3, 3), padding=1),
            "lif": lif((4, 16, 16)),
            "flat": nir.Flatten(input_type={"input": np.array([4, 16, 16])}, start_dim=0),
            "fc": nir.Linear(weight=np.ones((5, 1024))),
            "fc.lif": lif((5,)),
        },
        edges=[("input", "conv"), ("conv", "lif"), ("lif", "flat"), ("flat", "fc"),
               ("fc", "fc.lif")],
    )


def test_fit_widths_100000_is_refused_with_the_figure(tmp_path: Path) -> None:
    path = _nir(tmp_path, _wide_graph())
    _refused(["fit", str(path), "--widths", "100000,8"], tmp_path, "--widths", "100000", "GiB")
    ok = runner.invoke(app, ["fit", str(path), "--chip", "loihi2", "--widths", "8,4", "--json"])
    assert ok.exit_code == 0, ok.output


def test_forty_strided_convs_in_series_are_refused_before_composing_them(tmp_path: Path) -> None:
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type={"input": np.array([2, 64, 64])})}
    edges, prev, h = [], "input", 64
    for i in range(40):
        nodes[f"c{i}"] = nir.Conv2d(input_shape=(h, h), weight=np.ones((2, 2, 3, 3)), stride=2,
                                    padding=1, dilation=1, groups=1, bias=np.zeros(2))
        edges.append((prev, f"c{i}"))
        prev, h = f"c{i}", (h - 1) // 2 + 1
    nodes["lif"] = lif((2, h, h))
    edges.append((prev, "lif"))
    path = _nir(tmp_path, nir.NIRGraph(nodes=nodes, edges=edges))
    _refused(["estimate", str(path)], tmp_path, str(path), "composite kernel", "at most")


@pytest.mark.parametrize(
    ("section", "figures", "field"),
    [
        ("mesh", {"cores_per_router": 10**9, "cores_total": 1}, "mesh.cores_per_router"),
        ("mesh", {"cores_per_router": 4, "cores_total": 1}, "mesh.cores_per_router"),
        ("core", {"neurons_per_core": 10**30}, "core.neurons_per_core"),
    ],
)
def test_absurd_chip_sizes_are_one_line_at_the_cli(
    tmp_path: Path, section: str, figures: dict[str, int], field: str
) -> None:
    data = yaml.safe_load((builtin_chip_dir() / "generic-mesh.yaml").read_text())
    for key, value in figures.items():
        data[section][key] = {"value": value, "source": "hostile"}
    chip = _profile(tmp_path, yaml.safe_dump(data))
    net = _nir(tmp_path, tiny_graph())
    _refused(["estimate", str(net), "--chip", str(chip)], tmp_path, str(chip), field, "at most")


@pytest.mark.parametrize("weight", [np.ones((5, 144)).astype(bytes), np.full((5, 144), np.nan)])
def test_weights_that_are_not_real_finite_numbers_are_one_line(
    tmp_path: Path, weight: np.ndarray
) -> None:
    g = tiny_graph()
    nodes = {**g.nodes, "fc": nir.Linear(weight=weight)}
    path = _nir(tmp_path, nir.NIRGraph(nodes=nodes, edges=g.edges))
    _refused(["estimate", str(path)], tmp_path, str(path), "fc.weight", "real, finite")


# -- mutated files at the CLI: one line and exit 2, or a result; never a traceback or a changed file
LEAVES = [float("nan"), float("inf"), -1, 0, 10**30, 1e308, "x", [], {}, None, True, [1, -2]]


def _leaves(node: object, path: tuple = ()) -> list[tuple]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _leaves(v, (*path, k))] + [path]
    return [path]


@st.composite
def mutated_profile(draw) -> str:
    data = yaml.safe_load((builtin_chip_dir() / draw(st.sampled_from(
        ["generic-mesh.yaml", "loihi.yaml", "speck.yaml", "truenorth.yaml"]))).read_text())
    how = draw(st.sampled_from(["replace", "delete", "flip"]))
    if how == "flip":
        raw = bytearray(yaml.safe_dump(data).encode())
        i = draw(st.integers(0, len(raw) - 1))
        raw[i] ^= 1 << draw(st.integers(0, 7))
        return raw.decode("utf-8", "replace")
    paths = [p for p in _leaves(data) if p]
    path = draw(st.sampled_from(paths))
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    if how == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(st.sampled_from(LEAVES))
    return yaml.safe_dump(data)


@given(text=mutated_profile())
@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_mutated_chip_profiles_are_one_line_or_costed(tmp_path: Path, text: str) -> None:
    chip = tmp_path / "chip.yaml"
    chip.write_text(text)
    net = tmp_path / "net.nir"
    if not net.exists():
        nir.write(str(net), tiny_graph())
    before = snapshot(tmp_path)
    result = runner.invoke(app, ["estimate", str(net), "--chip", str(chip), "--json"])
    assert result.exit_code in (0, 2), (result.exit_code, repr(result.exception), text)
    if result.exit_code == 2:
        assert_one_line_error(result, str(chip))
    assert snapshot(tmp_path) == before


@given(offset=st.integers(0, 1 << 16), bit=st.integers(0, 7))
@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_a_flipped_bit_in_a_nir_file_is_one_line_or_costed(
    tmp_path: Path, offset: int, bit: int
) -> None:
    net = tmp_path / "net.nir"
    nir.write(str(net), tiny_graph())
    raw = bytearray(net.read_bytes())
    raw[offset % len(raw)] ^= 1 << bit
    net.write_bytes(bytes(raw))
    before = snapshot(tmp_path)
    result = runner.invoke(app, ["estimate", str(net), "--json"])
    assert result.exit_code in (0, 2), (result.exit_code, repr(result.exception))
    if result.exit_code == 2:
        assert_one_line_error(result, str(net))
    assert snapshot(tmp_path) == before
