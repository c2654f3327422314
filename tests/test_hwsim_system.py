"""Per-timestep traffic, activity-dependent model terms, latency-oriented placement, boards,
compare / fit / --validate: hand-computed where the model is linear."""

from __future__ import annotations

import json
from pathlib import Path

import nir
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from hwsim import Activity, HwsimInputError, estimate, load_activity, network_from_nir
from hwsim.chip import ChipSpec, builtin_chip_dir, parse_chip
from hwsim.cli import app
from hwsim.fit import fit
from hwsim.validate import validate_drain
from tests.test_hwsim_cli import tiny_graph
from tests.test_hwsim_model import (
    conv2d,
    lif,
    two_layer_activity,
    two_layer_chip,
    two_layer_graph,
)

runner = CliRunner()


def profile(board: dict | None = None, **figures: object) -> ChipSpec:
    """generic-mesh with figures replaced or added (optional ones too), optionally a board."""
    data = yaml.safe_load((builtin_chip_dir() / "generic-mesh.yaml").read_text())
    sections = {"mesh", "core", "routing", "energy", "timing"}
    for key, value in figures.items():
        section = next((s for s in sections if key in data[s]), None)
        if section is None:
            section = "timing" if key.startswith(("latency", "step", "core_")) else "energy"
        data[section][key] = {"value": value, "source": "test"}
    if board is not None:
        data["board"] = {k: {"value": v, "source": "test"} for k, v in board.items()}
    return parse_chip(data, "test.yaml")


# --- activity files ------------------------------------------------------------------------------
def test_per_timestep_and_summed_files_agree_on_totals(tmp_path: Path) -> None:
    net = network_from_nir(tiny_graph())
    rng = np.random.default_rng(0)
    steps = {"stem.lif": rng.integers(0, 3, (4, 4, 6, 6)).astype(float), "fc.lif": np.ones((4, 5))}
    np.savez(tmp_path / "t.npz", **steps, T=np.array(4), samples=np.array(1))
    np.savez(
        tmp_path / "s.npz", **{k: v.sum(0) for k, v in steps.items()}, T=4, samples=np.array(1)
    )
    per_step = load_activity(tmp_path / "t.npz", net)
    summed = load_activity(tmp_path / "s.npz", net)
    a, measured = per_step.steps_for("stem.lif", 144)
    assert measured and a.shape == (4, 144)
    np.testing.assert_array_equal(a, steps["stem.lif"].reshape(4, 144))
    b, _ = summed.steps_for("stem.lif", 144)
    np.testing.assert_allclose(b, np.broadcast_to(steps["stem.lif"].sum(0).ravel() / 4, (4, 144)))
    ra = estimate(net, per_step, "loihi2")
    rb = estimate(net, summed, "loihi2")
    assert ra.synops == pytest.approx(rb.synops) and ra.messages == pytest.approx(rb.messages)
    assert ra.step_times_s is not None and ra.step_times_s.size == 4


def test_graph_metadata_t_is_used_and_a_mismatching_file_refused(tmp_path: Path) -> None:
    g = tiny_graph()
    path = tmp_path / "t4.nir"
    nir.write(str(path), nir.NIRGraph(nodes=g.nodes, edges=g.edges, metadata={"T": 4}))
    res = runner.invoke(app, ["estimate", str(path), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["timesteps"] == 4
    np.savez(tmp_path / "a.npz", **{"fc.lif": np.ones(5)}, T=np.array(8), samples=np.array(1))
    res = runner.invoke(app, ["estimate", str(path), "--activity", str(tmp_path / "a.npz")])
    assert res.exit_code == 2 and "T" in res.stderr and "4" in res.stderr


def test_measured_input_activity_is_used(tmp_path: Path) -> None:
    net = network_from_nir(tiny_graph())
    act = Activity({"input": np.zeros(72)}, timesteps=4, source="t")
    rec = estimate(net, act, "loihi2")
    # a silent input drives no synaptic ops into the stem; fc still gets the assumed stem rate
    stem = next(la for la in rec.layers if la.name == "stem.lif")
    assert stem.synops_in == 0.0
    assert not any(a.startswith("input:") for a in rec.assumptions)


# --- model terms ---------------------------------------------------------------------------------
def test_message_spike_and_state_update_terms_by_hand() -> None:
    figures = dict(
        rows=2,
        cols=2,
        cores_per_router=1,
        cores_total=4,
        neurons_per_core=2,
        energy_synop_j=1e-12,
        energy_neuron_update_j=2e-12,
        energy_hop_j=3e-12,
        energy_router_j=0.5e-12,
        power_static_w=0.0,
        latency_synop_s=1e-9,
        latency_neuron_update_s=0.0,
        latency_router_s=1e-9,
        latency_link_s=2e-9,
        latency_barrier_s=0.0,
        timestep_s=0.0,
        link_bandwidth_spikes_per_s=1e12,
        energy_synop_dense_j=2e-12,
        energy_neuron_state_update_j=1e-12,
        energy_spike_j=5e-12,
        energy_message_j=10e-12,
        latency_spike_s=1e-9,
        latency_message_s=1e-9,
    )
    chip = profile(**figures)
    rec = estimate(two_layer_graph(), two_layer_activity(), chip, placement="sequential")
    # 22 dense synops x 2 pJ; 6 neurons x 2 steps x 2 pJ; state updates: per step A neurons
    # 0, 1, 2 and both B neurons receive input = 5 x 2 steps x 1 pJ; 8 spikes (A 7, B 1) x 5 pJ;
    # 13 messages x 10 pJ; routing 15 hops x 3 pJ + 13 deliveries x 0.5 pJ
    assert rec.energy_synops_j == pytest.approx(44e-12)
    assert rec.energy_neurons_j == pytest.approx(24e-12 + 10e-12)
    assert rec.energy_spikes_j == pytest.approx(40e-12)
    assert rec.energy_messages_j == pytest.approx(130e-12)
    assert rec.energy_dynamic_j == pytest.approx(44e-12 + 34e-12 + 40e-12 + 130e-12 + 51.5e-12)
    assert rec.energy_static_j == 0.0
    # busiest core B per step: 7 synops x 1 ns + 0.5 spikes x 1 ns + 0.5 messages x 1 ns
    assert rec.time_compute_s == pytest.approx(8e-9)
    # overlapped cores: B's receive side (7 ns of synops) hides its send side (1 ns)
    rec = estimate(
        two_layer_graph(),
        two_layer_activity(),
        profile(**figures, core_overlap=True),
        placement="sequential",
    )
    assert rec.time_compute_s == pytest.approx(7e-9)


def test_static_energy_is_reported_apart_from_dynamic() -> None:
    chip = two_layer_chip(power_static_w=0.5)
    rec = estimate(two_layer_graph(), two_layer_activity(), chip, placement="sequential")
    assert rec.energy_static_j == pytest.approx(0.5 * rec.latency_per_inference_s)
    assert rec.energy_total_j == pytest.approx(rec.energy_dynamic_j + rec.energy_static_j)


# --- placements ----------------------------------------------------------------------------------
def heavy_graph() -> nir.NIRGraph:
    """input (1x8x8) -> 3x3 conv -> L1 (8x8x8) -> 3x3 conv -> L2 (8x8x8)."""
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([1, 8, 8])}),
            "c1": conv2d((8, 8), (8, 1, 3, 3), padding=1),
            "L1": lif((8, 8, 8)),
            "c2": conv2d((8, 8), (8, 8, 3, 3), padding=1),
            "L2": lif((8, 8, 8)),
        },
        edges=[("input", "c1"), ("c1", "L1"), ("L1", "c2"), ("c2", "L2")],
    )


def test_spread_cuts_the_busiest_core_and_reports_the_tradeoff() -> None:
    chip = profile(rows=4, cols=4, cores_total=16, neurons_per_core=1024)
    greedy = estimate(heavy_graph(), None, chip, placement="greedy")
    spread = estimate(heavy_graph(), None, chip, placement="spread")
    assert greedy.cores_used == 2
    assert spread.time_compute_s < greedy.time_compute_s / 4
    cores = [row["cores"] for row in spread.tradeoff]
    assert cores == [2, 4, 8, 16]
    assert spread.time_per_timestep_s == min(r["time_per_timestep_s"] for r in spread.tradeoff)
    capped = estimate(heavy_graph(), None, chip, placement="spread", max_cores=4)
    assert capped.cores_used <= 4
    too_few = estimate(heavy_graph(), None, chip, placement="spread", max_cores=1)
    assert not too_few.feasible and "max-cores" in too_few.reasons[-1]


def test_locality_never_adds_hops_over_greedy() -> None:
    chip = profile(rows=4, cols=4, cores_total=16, neurons_per_core=64)
    g = estimate(heavy_graph(), None, chip, placement="greedy")
    lo = estimate(heavy_graph(), None, chip, placement="locality")
    assert lo.cores_used == g.cores_used == 16
    assert lo.hops <= g.hops


# --- boards --------------------------------------------------------------------------------------
def test_board_spills_onto_a_second_chip_and_costs_chip_links_apart() -> None:
    board = dict(
        chip_rows=1,
        chip_cols=2,
        link_bandwidth_spikes_per_s=1e6,
        latency_link_s=1e-7,
        energy_hop_j=1e-9,
    )
    one = profile(rows=2, cols=2, cores_total=4, neurons_per_core=128)
    two = profile(board, rows=2, cols=2, cores_total=4, neurons_per_core=128)
    assert not estimate(heavy_graph(), None, one).feasible  # 8 cores needed, 4 on one chip
    rec = estimate(heavy_graph(), None, two, placement="sequential")
    assert rec.feasible and rec.chips_used == 2 and rec.cores_available == 8
    assert rec.interchip_messages > 0 and rec.interchip_hops > 0
    assert rec.energy_interchip_j == pytest.approx(rec.interchip_hops * 1e-9)
    # the slow chip-to-chip link is the busiest channel
    assert rec.max_interchip_utilisation == pytest.approx(rec.max_link_utilisation)


def test_builtin_boards_inherit_their_chip() -> None:
    from hwsim import load_chip

    kp = load_chip("loihi2-kapoho-point")
    assert kp.n_chips == 8 and kp.n_cores == 8 * 128
    assert kp.energy_synop_j == load_chip("loihi2").energy_synop_j
    assert all(v.strip() for v in kp.provenance.values())


# --- compare, fit, validate, plot ----------------------------------------------------------------
def test_compare_gives_table_json_and_png(tmp_path: Path) -> None:
    path = tmp_path / "net.nir"
    nir.write(str(path), tiny_graph())
    png = tmp_path / "cmp.png"
    res = runner.invoke(
        app, ["compare", str(path), "--chips", "loihi2,speck", "--json", "--plot", str(png)]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    rows = out["rows"]
    assert [r["chip"] for r in rows] == ["loihi2", "speck"]
    assert all({"feasible", "binding", "energy_breakdown_j", "placement"} <= set(r)
               for r in rows)
    assert png.stat().st_size > 1000
    # no activity given: the assumed rate is said, not silent
    assert any("assumed to fire 0.1 spikes" in n for n in out["notes"])


def test_compare_keeps_each_chips_better_placement_and_names_it(tmp_path: Path) -> None:
    path = tmp_path / "net.nir"
    nir.write(str(path), tiny_graph())
    runs = {}
    for how in ("greedy", "spread", "best"):
        res = runner.invoke(app, ["compare", str(path), "--chips", "loihi2", "--json",
                                  "--placement", how])
        assert res.exit_code == 0, res.output
        runs[how] = json.loads(res.stdout)["rows"][0]
    edp = {h: runs[h]["energy_total_j"] * runs[h]["time_per_timestep_s"]
           for h in ("greedy", "spread")}
    want = min(edp, key=edp.get)
    assert runs["best"]["placement"] == want
    assert runs["best"]["energy_total_j"] == runs[want]["energy_total_j"]


def two_conv_graph() -> nir.NIRGraph:
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([1, 4, 4])}),
            "c1": conv2d((4, 4), (4, 1, 3, 3), padding=1),
            "L1": lif((4, 4, 4)),
            "c2": conv2d((4, 4), (8, 4, 3, 3), padding=1),
            "L2": lif((8, 4, 4)),
        },
        edges=[("input", "c1"), ("c1", "L1"), ("L1", "c2"), ("c2", "L2")],
    )


def test_fit_finds_the_width_under_a_fan_in_limit() -> None:
    chip = profile(rows=16, cols=16, cores_total=256, fan_in_axons_per_core=20)
    rows = fit(network_from_nir(two_conv_graph()), chip, widths=[4, 3, 2, 1], kernels=[None, 1])
    ok = {(r.width, r.kernel) for r in rows if r.feasible}
    # L2's fan-in is width x 3 x 3 axons: 36, 27 > 20; 18, 9 fit; 1x1 kernels fit at any width
    assert (2, None) in ok and (1, None) in ok and (3, None) not in ok and (4, None) not in ok
    assert (4, 1) in ok
    bad = next(r for r in rows if (r.width, r.kernel) == (4, None))
    assert "input axons" in bad.reasons[0] and "L2" in bad.reasons[0]


def test_analytic_drain_within_25_percent_of_the_simulator() -> None:
    chip = profile(
        rows=4,
        cols=4,
        cores_total=16,
        neurons_per_core=64,
        latency_router_s=2e-9,
        latency_link_s=2e-9,
        link_bandwidth_spikes_per_s=1e9,
    )
    steps = {"input": np.full((2, 64), 1.0), "L1": np.full((2, 512), 1.0)}
    rec = estimate(heavy_graph(), Activity(steps, timesteps=2, source="t"), chip)
    checks = validate_drain(rec, chip)
    assert len(checks) == 2 and all(c.messages > 0 for c in checks)
    assert all(0.75 <= c.ratio <= 1.25 for c in checks), [c.ratio for c in checks]


def test_mesh_plot_writes_one_picture_per_used_chip(tmp_path: Path) -> None:
    from hwsim.plot import plot_mesh

    board = dict(
        chip_rows=1,
        chip_cols=2,
        link_bandwidth_spikes_per_s=1e9,
        latency_link_s=1e-7,
        energy_hop_j=1e-10,
    )
    chip = profile(board, rows=2, cols=2, cores_total=4, neurons_per_core=128)
    rec = estimate(heavy_graph(), None, chip, placement="sequential")
    files = plot_mesh(rec, tmp_path / "mesh.png")
    assert [f.name for f in files] == ["mesh.png", "mesh-chip0.png", "mesh-chip1.png"]
    assert all(f.stat().st_size > 1000 for f in files)


def test_bad_board_section_names_the_field() -> None:
    with pytest.raises(HwsimInputError, match="board.chip_cols"):
        profile({"chip_rows": 1})


def test_channel_diagonal_conv_is_costed_as_the_pool_it_is() -> None:
    """Portable NIR writes a 2x2 sum pool as a dense Conv2d with zero cross-channel kernels."""
    c = 3
    weight = np.zeros((c, c, 2, 2))
    for i in range(c):
        weight[i, i] = 1.0
    pool = nir.Conv2d(
        input_shape=(4, 4),
        weight=weight,
        stride=2,
        padding=0,
        dilation=1,
        groups=1,
        bias=np.zeros(c),
    )
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([c, 4, 4])}),
            "A": lif((c, 4, 4)),
            "p": pool,
            "B": lif((c, 2, 2)),
        },
        edges=[("input", "A"), ("A", "p"), ("p", "B")],
    )
    proj = next(p for p in network_from_nir(graph).projections if p.via == "p")
    assert proj.pool and proj.groups == c
    rec = estimate(graph, None, "loihi2")
    # each B neuron reads its own channel's 2x2 window: 4 synapses, not 3 x 4
    b = next(la for la in rec.layers if la.name == "B")
    assert b.synops_in == pytest.approx(c * 4 * 4 * 0.1 * 8)  # every A spike lands once


def test_greedy_on_a_board_stays_on_as_few_chips_as_needed() -> None:
    board = dict(
        chip_rows=2,
        chip_cols=2,
        link_bandwidth_spikes_per_s=1e6,
        latency_link_s=1e-7,
        energy_hop_j=1e-9,
    )
    chip = profile(board, rows=2, cols=2, cores_total=4, neurons_per_core=128)
    for placement in ("greedy", "locality"):
        rec = estimate(heavy_graph(), None, chip, placement=placement)  # 8 pieces: 2 chips
        assert rec.feasible and rec.chips_used == 2 and rec.cores_used == 8
    small = profile(board, rows=2, cols=2, cores_total=4, neurons_per_core=512)
    rec = estimate(heavy_graph(), None, small, placement="greedy")  # 2 pieces: 1 chip
    assert rec.chips_used == 1 and rec.interchip_messages == 0
