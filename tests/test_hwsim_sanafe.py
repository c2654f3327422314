"""hwsim against SANA-FE: the same network, mapping and spikes on both (issues 10 and 20).

Two kinds of check: hwsim's `loihi-sanafe` profile (SANA-FE's figures) against SANA-FE's own
Loihi file tests the engines' event counting and timing on the same figures; hwsim's stock `loihi`
profile (Davies 2018, plus SANA-FE's terms where Davies publishes none) against SANA-FE's own file
tests the profile on independent figures.

The comparisons need SANA-FE (`pip install 'autosnn[sanafe]'`, GPL-3.0, CI installs it) and are
skipped with that reason without it; the translation helpers and the missing-extra error are
tested either way.
"""

from __future__ import annotations

import json
import sys

import nir
import numpy as np
import pytest
import yaml

from hwsim import Activity, load_chip
from hwsim.connectivity import incoming_events
from hwsim.network import network_from_nir
from hwsim.sanafe import (
    INSTALL_HINT,
    SANAFE_LOIHI,
    Comparison,
    SanafeMissingError,
    compare,
    compare_loihi,
    import_sanafe,
    input_raster,
    neuron_params,
    projection_synapses,
    resolve_arch,
    sanafe_arch,
)

try:  # importing (not only finding) it: a broken install skips too, with the reason below
    import sanafe  # noqa: F401

    HAVE_SANAFE = True
except ImportError:
    HAVE_SANAFE = False

needs_sanafe = pytest.mark.skipif(
    not HAVE_SANAFE,
    reason=f"SANA-FE not installed ({INSTALL_HINT}; CI installs it)",
)

T = 20


def lif(shape: int | tuple[int, ...], tau: float = 2e-4) -> nir.LIF:
    """dt = 1e-4 (NIR default here): k = dt / tau = 0.5, leak_decay 0.5."""
    return nir.LIF(
        tau=np.full(shape, tau),
        r=np.ones(shape),
        v_leak=np.zeros(shape),
        v_threshold=np.ones(shape),
    )


def dense_net(seed: int = 0) -> nir.NIRGraph:
    """256 -> 128 -> 10, issue 10's dense net."""
    rng = np.random.default_rng(seed)
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([256])}),
            "fc1": nir.Linear(weight=rng.normal(0.0, 0.25, (128, 256))),
            "lif1": lif(128),
            "fc2": nir.Linear(weight=rng.normal(0.0, 0.5, (10, 128))),
            "lif2": lif(10),
            "output": nir.Output(output_type={"output": np.array([10])}),
        },
        edges=[
            ("input", "fc1"),
            ("fc1", "lif1"),
            ("lif1", "fc2"),
            ("fc2", "lif2"),
            ("lif2", "output"),
        ],
    )


def conv_net(seed: int = 0) -> nir.NIRGraph:
    """1x16x16 -> 4 conv 3x3 (padding 1) -> 2x2 sum pool -> 10, the search space's conv-LIF,
    pool-LIF, dense-LIF pattern in miniature (conv, pooling and dense synapses all present)."""
    rng = np.random.default_rng(seed)
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([1, 16, 16])}),
            "conv": nir.Conv2d(
                input_shape=(16, 16),
                weight=rng.normal(0.3, 0.6, (4, 1, 3, 3)),
                stride=1,
                padding=1,
                dilation=1,
                groups=1,
                bias=np.full(4, 0.05),
            ),
            "lif1": lif((4, 16, 16)),
            "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=0),
            "lif2": lif((4, 8, 8)),
            "flat": nir.Flatten(input_type={"input": np.array([4, 8, 8])}, start_dim=0),
            "fc": nir.Linear(weight=rng.normal(0.0, 0.4, (10, 256))),
            "lif3": lif(10),
            "output": nir.Output(output_type={"output": np.array([10])}),
        },
        edges=[
            ("input", "conv"),
            ("conv", "lif1"),
            ("lif1", "pool"),
            ("pool", "lif2"),
            ("lif2", "flat"),
            ("flat", "fc"),
            ("fc", "lif3"),
            ("lif3", "output"),
        ],
    )


def raster(graph: nir.NIRGraph, rate: float = 0.2, seed: int = 1) -> dict[str, np.ndarray]:
    size = int(np.prod(graph.nodes["input"].input_type["input"]))
    return {"input": np.random.default_rng(seed).random((T, size)) < rate}


# --- comparisons (need SANA-FE) -----------------------------------------------------------------

NETS = {"dense": dense_net, "conv": conv_net}


@pytest.fixture(scope="module")
def same_figures() -> dict[str, Comparison]:
    """Each net once on hwsim's loihi-sanafe and SANA-FE's own loihi.yaml (a SANA-FE run is
    seconds: most of it is building the 128-core chip), shared by the tests below."""
    out = {}
    for name, make in NETS.items():
        graph = make()
        out[name] = compare(graph, "loihi-sanafe", raster(graph), arch=SANAFE_LOIHI)
    return out


@needs_sanafe
@pytest.mark.parametrize("net", NETS)
def test_same_figures_same_spikes_energy_within_10_percent(
    net: str, same_figures: dict[str, Comparison]
) -> None:
    """Done-when of issue 10: hwsim on SANA-FE's Loihi figures (loihi-sanafe) against SANA-FE's
    own loihi.yaml, same spikes: dynamic energy per timestep within 10 %."""
    cmp = same_figures[net]
    r = cmp.ratios()
    assert cmp.sanafe.packets > 0 and cmp.sanafe.synaptic_events > 0  # the net is active
    assert abs(r["energy_dynamic"] - 1.0) <= 0.10, r


@needs_sanafe
@pytest.mark.parametrize("net", NETS)
def test_same_figures_same_spikes_time_within_15_percent(
    net: str, same_figures: dict[str, Comparison]
) -> None:
    """Done-when of issue 10: time per timestep within 15 % (same figures, same spikes). The conv
    net's core is as busy sending (1,024 neurons swept) as receiving: it fails if hwsim adds the
    two instead of overlapping them (`core_overlap`), as SANA-FE's Loihi does."""
    r = same_figures[net].ratios()
    assert abs(r["time_per_timestep"] - 1.0) <= 0.15, r


@needs_sanafe
@pytest.mark.parametrize("net", NETS)
def test_sanafe_counts_the_messages_and_synops_hwsim_counts(
    net: str, same_figures: dict[str, Comparison]
) -> None:
    """Same mapping, same spikes: SANA-FE's packets are hwsim's messages (less those hwsim sends
    to the host's output, which SANA-FE has no node for) and its synaptic events hwsim's synops.
    A mapping or connectivity slip in the translation shows here first."""
    cmp = same_figures[net]
    assert cmp.hwsim.messages - cmp.host_messages == cmp.sanafe.packets
    assert cmp.hwsim.synops == cmp.sanafe.synaptic_events
    assert cmp.host_messages == cmp.sanafe.counts["lif3" if net == "conv" else "lif2"].sum()


@needs_sanafe
def test_input_raster_is_what_sanafe_fires(same_figures: dict[str, Comparison]) -> None:
    fired = same_figures["dense"].sanafe.steps["input"]
    np.testing.assert_array_equal(fired, raster(dense_net())["input"].astype(float))


@needs_sanafe
def test_translated_profile_reproduces_sanafe_loihi(same_figures: dict[str, Comparison]) -> None:
    """loihi-sanafe translated back into a SANA-FE architecture costs what SANA-FE's own
    loihi.yaml costs (hops differ only by direction: 3.0/4.2 pJ there, their mean here)."""
    graph = conv_net()
    own = same_figures["conv"].sanafe
    ours = compare(graph, "loihi-sanafe", raster(graph)).sanafe
    assert ours.energy_synapse_j == pytest.approx(own.energy_synapse_j, rel=1e-9)
    assert ours.energy_soma_j == pytest.approx(own.energy_soma_j, rel=1e-9)
    assert ours.energy_network_j == pytest.approx(own.energy_network_j, rel=0.05)
    assert ours.time_s == pytest.approx(own.time_s, rel=0.15)


@needs_sanafe
def test_profile_mesh_must_match_the_architecture() -> None:
    graph = dense_net()
    with pytest.raises(ValueError, match="mesh"):  # loihi2's 8x16 mesh, not SANA-FE Loihi's
        compare(graph, "loihi2", raster(graph), arch=SANAFE_LOIHI)


@needs_sanafe
def test_activity_input_is_spread_into_a_raster() -> None:
    graph = dense_net()
    counts = np.zeros(256)
    counts[:64] = 5.0
    cmp = compare(
        graph, "loihi-sanafe", Activity({"input": counts}, timesteps=T), arch=SANAFE_LOIHI
    )
    np.testing.assert_array_equal(cmp.sanafe.counts["input"], counts)


# --- stock loihi against SANA-FE's OWN Loihi figures (issue 20) ---------------------------------

# loihi.yaml fields sourced to SANA-FE's file -> (unit in SANA-FE's loihi.yaml, attribute)
SANAFE_SOURCED = {
    "energy.energy_synop_dense_j": ("loihi_dense_synapse", "energy_process_spike"),
    "energy.energy_spike_j": ("loihi_lif", "energy_spike_out"),
    "energy.energy_message_j": ("loihi_out", "energy_message_out"),
    "timing.latency_spike_s": ("loihi_lif", "latency_spike_out"),
    "timing.latency_message_s": ("loihi_out", "latency_message_out"),
    "timing.latency_message_in_s": ("loihi_in", "latency_message_in"),
}


def sanafe_loihi_units() -> dict[str, dict]:
    """Unit name -> attributes of SANA-FE's shipped loihi.yaml (read here, not through hwsim)."""
    from hwsim.sanafe import sanafe_loihi_path

    core = yaml.safe_load(sanafe_loihi_path().read_text())["architecture"]["tile"][0]["core"][0]
    return {
        unit["name"]: unit["attributes"]
        for part in ("axon_in", "synapse", "soma", "axon_out")
        for unit in core[part]
    }


@pytest.fixture(scope="module")
def own_figures() -> dict[str, Comparison]:
    """Each net on hwsim's STOCK loihi profile against SANA-FE run on its own shipped loihi.yaml
    (not the profile translated), same mapping and spikes."""
    return {name: compare_loihi(make(), raster(make())) for name, make in NETS.items()}


@needs_sanafe
@pytest.mark.parametrize("net", NETS)
def test_stock_loihi_against_sanafes_own_loihi_energy_within_15_percent(
    net: str, own_figures: dict[str, Comparison]
) -> None:
    """Done-when of issue 20: stock `loihi` vs SANA-FE on its own Loihi figures, identical spike
    counts: dynamic energy per timestep within 15 %. Before the per-message / per-spike terms
    the dense net read 0.66."""
    cmp = own_figures[net]
    assert cmp.sanafe.independent and "sanafe package" in cmp.sanafe.arch
    assert cmp.hwsim.chip == "loihi"
    assert cmp.hwsim.messages - cmp.host_messages == cmp.sanafe.packets  # the same events
    assert cmp.hwsim.synops == cmp.sanafe.synaptic_events
    r = cmp.ratios()
    assert abs(r["energy_dynamic"] - 1.0) <= 0.15, r
    assert r["energy_total"] == pytest.approx(r["energy_dynamic"])  # no board idle as chip power


@needs_sanafe
@pytest.mark.parametrize("net", NETS)
def test_stock_loihi_against_sanafes_own_loihi_time_within_20_percent(
    net: str, own_figures: dict[str, Comparison]
) -> None:
    """Done-when of issue 20: time per timestep within 20 % (same spikes, independent figures)."""
    r = own_figures[net].ratios()
    assert abs(r["time_per_timestep"] - 1.0) <= 0.20, r


@needs_sanafe
def test_stock_loihi_keeps_davies_figures_where_davies_publishes_them() -> None:
    """The agreement above is not a copy: where Davies 2018 gives a figure (neuron update, the
    minimum synaptic op, barrier) the stock profile keeps it, and it is not SANA-FE's."""
    units, chip = sanafe_loihi_units(), load_chip("loihi")
    assert chip.energy_neuron_update_j != units["loihi_lif"]["energy_access_neuron"]
    assert chip.latency_neuron_update_s != units["loihi_lif"]["latency_access_neuron"]
    assert chip.energy_synop_j != units["loihi_conv_synapse"]["energy_process_spike"]
    assert chip.latency_barrier_by_tiles_s is None and chip.latency_barrier_s < 0.6e-6
    for name in ("energy.energy_neuron_update_j", "energy.energy_synop_j"):
        assert chip.provenance[name].startswith("Davies 2018"), chip.provenance[name]


@needs_sanafe
def test_stock_loihi_sanafe_sourced_figures_are_what_the_file_says() -> None:
    """Every loihi.yaml figure sourced to SANA-FE's file equals that file's unit attribute, and
    no other figure claims that source."""
    units, chip = sanafe_loihi_units(), load_chip("loihi")
    for name, (unit, attribute) in SANAFE_SOURCED.items():
        assert chip.provenance[name].startswith("SANA-FE arch/loihi.yaml"), name
        assert getattr(chip, name.split(".")[1]) == units[unit][attribute], name
    claimed = {k for k, v in chip.provenance.items() if v.startswith("SANA-FE arch/loihi.yaml")}
    assert claimed == set(SANAFE_SOURCED) | {"timing.core_overlap"}


def test_loihi_chip_power_leaves_out_the_board_idle_draw() -> None:
    """Blouw 2018's 29 mW is a Loihi system's idle draw: not counted as the chip's static power,
    and the profile says where it went."""
    chip = load_chip("loihi")
    assert chip.power_static_w < 0.029
    why = chip.provenance["energy.power_static_w"]
    assert "0.029" in why and "board" in why and why.startswith("ASSUMED")


def test_compare_loihi_refuses_a_profile_without_loihis_chips() -> None:
    with pytest.raises(ValueError, match="Loihi's chips"):
        compare_loihi(dense_net(), raster(dense_net()), chip="loihi2")


def test_auto_arch_translates_a_profile_without_loihis_chips() -> None:
    binding = resolve_arch("auto", load_chip("truenorth"))
    assert not binding.independent and "translated" in binding.name


@needs_sanafe
def test_auto_arch_uses_sanafes_own_file_for_loihi_profiles() -> None:
    for name in ("loihi", "loihi-sanafe"):
        assert resolve_arch("auto", load_chip(name)).independent
    board = resolve_arch("auto", load_chip("loihi-nahuku32"))  # 32 chips tiled into one mesh
    assert board.independent and (board.rows, board.cols) == (16, 64)


# --- translation helpers (no SANA-FE needed) ----------------------------------------------------


def test_missing_sanafe_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sanafe", None)  # import sanafe -> ImportError
    with pytest.raises(SanafeMissingError) as err:
        import_sanafe()
    assert INSTALL_HINT in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(SanafeMissingError):
        compare(dense_net(), "loihi", raster(dense_net()))


def _conv_reference(x: np.ndarray, w: np.ndarray, stride: int, pad: int, groups: int) -> np.ndarray:
    """Direct grouped convolution (cross-correlation), loops: the reference for the synapse list."""
    cin, h, wd = x.shape
    cout, cin_g, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    ho, wo = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((cout, ho, wo))
    for co in range(cout):
        g = co // (cout // groups)
        for i in range(cin_g):
            for y in range(ho):
                for z in range(wo):
                    patch = xp[
                        g * cin_g + i, y * stride : y * stride + kh, z * stride : z * stride + kw
                    ]
                    out[co, y, z] += (patch * w[co, i]).sum()
    return out


@pytest.mark.parametrize(("stride", "pad", "groups"), [(1, 1, 1), (2, 0, 2), (2, 1, 4)])
def test_conv_synapses_compute_the_convolution(stride: int, pad: int, groups: int) -> None:
    rng = np.random.default_rng(3)
    w = rng.normal(size=(4, 4 // groups, 3, 3))
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([4, 7, 6])}),
            "conv": nir.Conv2d(
                input_shape=(7, 6),
                weight=w,
                stride=stride,
                padding=pad,
                dilation=1,
                groups=groups,
                bias=np.zeros(4),
            ),
            "lif": lif((4, (7 + 2 * pad - 3) // stride + 1, (6 + 2 * pad - 3) // stride + 1)),
            "output": nir.Output(output_type={"output": np.array([1])}),
        },
        edges=[("input", "conv"), ("conv", "lif")],
        type_check=False,  # NIR infers Cin = weight.shape[1], which ignores groups
    )
    proj = network_from_nir(graph).projections[0]
    src, dst, weight = projection_synapses(proj, graph.nodes["conv"])
    x = rng.normal(size=(4, 7, 6))
    got = np.bincount(dst, weights=weight * x.ravel()[src], minlength=int(np.prod(proj.out_chw)))
    np.testing.assert_allclose(got, _conv_reference(x, w, stride, pad, groups).ravel())
    # one synapse per tap hwsim counts (its fan-in is an independent computation)
    fan_in = np.bincount(dst, minlength=got.size)
    np.testing.assert_array_equal(fan_in, incoming_events(proj, np.ones(4 * 7 * 6)))


def test_dense_synapses_skip_zero_weights_like_hwsims_mask() -> None:
    w = np.array([[0.0, 2.0, 0.0], [1.0, 0.0, -3.0]])
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([3])}),
            "fc": nir.Linear(weight=w),
            "lif": lif(2),
            "output": nir.Output(output_type={"output": np.array([2])}),
        },
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")],
    )
    proj = network_from_nir(graph).projections[0]
    src, dst, weight = projection_synapses(proj, graph.nodes["fc"])
    assert sorted(zip(src.tolist(), dst.tolist(), weight.tolist(), strict=True)) == [
        (0, 1, 1.0),
        (1, 0, 2.0),
        (2, 1, -3.0),
    ]


def test_lif_parameters_follow_nirs_euler_update() -> None:
    """Loihi LIF (v = leak_decay v + scale I + bias, fire on v > threshold, hard reset) with the
    translated parameters traces NIR's forward-Euler LIF step for step."""
    dt, tau, r, v_leak, th = 1e-4, 4e-4, 2.0, 0.1, 1.0
    node = nir.LIF(
        tau=np.array([tau]), r=np.array([r]), v_leak=np.array([v_leak]), v_threshold=np.array([th])
    )
    p = neuron_params(node, 1, dt)
    current = np.random.default_rng(0).random(30)
    v_nir = v_sf = 0.0
    for i in current:
        v_nir = v_nir + dt / tau * (v_leak - v_nir + r * i)
        v_sf = p.leak_decay[0] * v_sf + p.scale[0] * i + p.bias[0]
        assert v_sf == pytest.approx(v_nir)
        fired = v_nir > th
        v_nir = 0.0 if fired else v_nir
        v_sf = p.reset[0] if fired else v_sf


def test_input_raster_spreads_counts_evenly() -> None:
    net = network_from_nir(dense_net())
    counts = np.zeros(256)
    counts[:4] = [1.0, 3.0, 2.6, 25.0]  # 2.6 rounds to 3; 25 is capped at T
    got = input_raster(Activity({"input": counts}, timesteps=4), net)["input"]
    assert got.shape == (4, 256)
    assert got.sum(axis=0)[:4].tolist() == [1, 3, 3, 4]
    assert got[:, 1].tolist() == [True, False, True, True]  # steps floor((j + 0.5) * 4 / 3)
    assert not got[:, 4:].any()


def test_translation_carries_the_profiles_figures() -> None:
    chip = load_chip("loihi-sanafe")
    arch = sanafe_arch(chip).description["architecture"]
    assert (arch["attributes"]["width"], arch["attributes"]["height"]) == (8, 4)
    tile = arch["tile"][0]
    assert tile["name"] == "tile[0..31]" and tile["attributes"]["energy_east_hop"] == 3.6e-12
    core = tile["core"][0]
    assert core["name"] == "core[0..3]"
    synapse = {u["name"]: u["attributes"]["energy_process_spike"] for u in core["synapse"]}
    assert synapse == {"dense_synapse": 35.5e-12, "conv_synapse": 24.0e-12}
    soma = core["soma"][0]["attributes"]
    assert (soma["energy_access_neuron"], soma["energy_update_neuron"]) == (51.2e-12, 21.6e-12)
    assert soma["energy_spike_out"] == 69.3e-12
    assert core["axon_out"][0]["attributes"]["energy_message_out"] == 111.0e-12
    assert arch["attributes"]["sync_model"] == "table"
    assert arch["attributes"]["latency_sync"] == {1: 0.6e-6, 2: 1.0e-6, 4: 1.4e-6, 29: 1.8e-6}


def test_translation_tiles_a_boards_chips_into_one_mesh() -> None:
    chip = load_chip("loihi-nahuku32")  # 4x8 Loihi chips of 4x8 tiles each
    binding = sanafe_arch(chip)
    attrs = binding.description["architecture"]["attributes"]
    assert (attrs["height"], attrs["width"]) == (binding.rows, binding.cols) == (16, 64)
    assert binding.description["architecture"]["tile"][0]["name"] == "tile[0..1023]"


# --- command line -------------------------------------------------------------------------------


@needs_sanafe
def test_cli_engine_sanafe_reports_both_engines(tmp_path) -> None:
    from typer.testing import CliRunner

    from hwsim.cli import app

    path = tmp_path / "dense.nir"
    nir.write(str(path), dense_net())
    args = ["estimate", str(path), "--chip", "loihi-sanafe", "--engine", "sanafe"]
    res = CliRunner().invoke(app, [*args, "--rate", "0.2", "--timesteps", "10", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)  # SANA-FE's own progress line goes to stderr
    ratios = out["sanafe"]["ratio_hwsim_over_sanafe"]
    assert ratios["synops"] == 1.0 and ratios["messages"] == 1.0
    assert out["sanafe"]["sanafe"]["timesteps"] == 10 == out["timesteps"]
    assert out["sanafe"]["sanafe"]["figures"] == "SANA-FE's own"  # a Loihi profile: not circular


def test_cli_engine_sanafe_without_the_extra_is_one_line(tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from hwsim.cli import app

    monkeypatch.setitem(sys.modules, "sanafe", None)
    path = tmp_path / "dense.nir"
    nir.write(str(path), dense_net())
    res = CliRunner().invoke(app, ["estimate", str(path), "--chip", "loihi", "--engine", "sanafe"])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and INSTALL_HINT in lines[0], res.output
