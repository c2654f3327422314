"""Hand-computed cases for hwsim's mapping, routing, timing and energy."""

from __future__ import annotations

import itertools
from pathlib import Path

import nir
import numpy as np
import pytest
import yaml

from hwsim import Activity, estimate, load_chip
from hwsim.chip import ChipSpec, builtin_chip_dir, parse_chip
from hwsim.connectivity import incoming_events, target_pieces
from hwsim.mapping import partition
from hwsim.network import network_from_nir
from hwsim.speck_memory import speck_kernel_words, speck_neuron_words


def lif(shape: tuple[int, ...]) -> nir.LIF:
    return nir.LIF(
        tau=np.ones(shape), r=np.ones(shape), v_leak=np.zeros(shape), v_threshold=np.ones(shape)
    )


def conv2d(
    input_shape: tuple[int, int],
    weight_shape: tuple[int, int, int, int],
    *,
    stride: int = 1,
    padding: int = 0,
    groups: int = 1,
) -> nir.Conv2d:
    """All-ones Conv2d, dilation 1: hwsim only looks at the geometry and the non-zero pattern."""
    return nir.Conv2d(
        input_shape=input_shape,
        weight=np.ones(weight_shape),
        stride=stride,
        padding=padding,
        dilation=1,
        groups=groups,
        bias=np.zeros(weight_shape[0]),
    )


def chip_with(**figures: object) -> ChipSpec:
    """generic-mesh template with some figures replaced (all as assumed values)."""
    data = yaml.safe_load((builtin_chip_dir() / "generic-mesh.yaml").read_text())
    for key, value in figures.items():
        for section in ("mesh", "core", "routing", "energy", "timing"):
            if key in data[section]:
                data[section][key] = {"value": value, "source": "test"}
                break
        else:
            raise KeyError(key)
    return parse_chip(data, "test.yaml")


# --- two small layers on a 2x2 mesh -------------------------------------------------------------
# input (2) -> A (4 neurons, 2 per core: pieces A0 = {0,1}, A1 = {2,3}) -> B (2 neurons)
# input 0 -> A0 only; input 1 -> A neurons 1 and 2 (both pieces); A -> B all-to-all;
# B -> output, i.e. back to the host port at router (0,0).
W_IN = np.array([[1, 0], [1, 1], [0, 1], [0, 0]], dtype=float)  # (A, input)
COUNTS = {
    "input": np.array([3.0, 1.0]),
    "A": np.array([1.0, 0.0, 2.0, 4.0]),
    "B": np.array([0.0, 1.0]),
}


def two_layer_graph() -> nir.NIRGraph:
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([2])}),
            "w1": nir.Linear(weight=W_IN),
            "A": lif((4,)),
            "w2": nir.Linear(weight=np.ones((2, 4))),
            "B": lif((2,)),
            "output": nir.Output(output_type={"output": np.array([2])}),
        },
        edges=[("input", "w1"), ("w1", "A"), ("A", "w2"), ("w2", "B"), ("B", "output")],
    )


def two_layer_chip(**extra: object) -> ChipSpec:
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
    )
    figures.update(extra)
    return chip_with(**figures)


def two_layer_activity() -> Activity:
    return Activity(COUNTS, timesteps=2, samples=1, source="test")


def test_two_layers_unicast_exact_hops_loads_and_energy() -> None:
    rec = estimate(
        two_layer_graph(), two_layer_activity(), two_layer_chip(), placement="sequential"
    )
    assert rec.feasible and rec.cores_used == 3
    # sequential: A0 -> router (0,0), A1 -> (0,1), B -> (1,0); host port at (0,0)
    # input: 3 local msgs to A0 + 1 to A0 + 1 to A1 (1 hop); A0 -> B 1 msg 1 hop;
    # A1 -> B 6 msgs x 2 hops (west then south); B -> host 1 msg 1 hop (north)
    assert rec.messages == pytest.approx(13)
    assert rec.hops == pytest.approx(15)
    layers = {la.name: la for la in rec.layers}
    assert layers["input"].messages == pytest.approx(5) and layers["input"].hops == pytest.approx(1)
    assert layers["A"].messages == pytest.approx(7) and layers["A"].hops == pytest.approx(13)
    assert layers["A"].cores == 2
    assert layers["B"].messages == pytest.approx(1) and layers["B"].hops == pytest.approx(1)
    # links per timestep (T = 2): east 0->1: 1/2, south 0->2: (1 + 6)/2, west 1->0: 6/2,
    # north 2->0: 1/2
    loads = rec.link_load_per_step
    assert loads is not None
    assert sorted(loads[loads > 0].tolist()) == pytest.approx([0.5, 0.5, 3.0, 3.5])
    assert rec.max_link_load_per_step == pytest.approx(3.5)
    # synops: A receives 3, 4, 1, 0; each B neuron receives all 7 A spikes
    assert rec.synops == pytest.approx(22)
    assert rec.energy_synops_j == pytest.approx(22e-12)
    assert rec.energy_neurons_j == pytest.approx(6 * 2 * 2e-12)
    assert rec.energy_routing_j == pytest.approx(15 * 3e-12 + 13 * 0.5e-12)
    assert rec.energy_static_j == 0.0
    assert rec.energy_total_j == pytest.approx(22e-12 + 24e-12 + 51.5e-12)


def test_two_layers_multicast_sends_one_message_per_spike() -> None:
    rec = estimate(
        two_layer_graph(),
        two_layer_activity(),
        two_layer_chip(multicast=True),
        placement="sequential",
    )
    # input neuron 1 now sends one message reaching both A cores: 4 + 1 + 6 + 1 messages
    assert rec.messages == pytest.approx(12)
    assert rec.deliveries == pytest.approx(13)
    assert rec.hops == pytest.approx(15)


def test_greedy_placement_pulls_the_heavy_pair_together() -> None:
    rec = estimate(two_layer_graph(), two_layer_activity(), two_layer_chip(), placement="greedy")
    # greedy: A0 (4 spikes from the host) at (0,0); then B (attached to host and A0) at (0,1);
    # then A1 where 1 x dist(host) + 6 x dist(B) is least: (1,1).
    # hops = input->A1 2 + A0->B 1 + A1->B 6 x 1 + B->host 1 = 10 (sequential gives 15)
    assert rec.hops == pytest.approx(10)
    assert rec.cores_used == 3


def test_barrier_timestep_is_busiest_core_plus_drain_of_busiest_channel() -> None:
    rec = estimate(
        two_layer_graph(),
        two_layer_activity(),
        two_layer_chip(link_bandwidth_spikes_per_s=1e9),
        placement="sequential",
    )
    # summed counts spread over T = 2. busiest core: B receives 7 A spikes per step on each of
    # its 2 neurons = 7 synops x 1 ns = 7 ns
    assert rec.time_compute_s == pytest.approx(7e-9)
    # busiest channel per step: south link 0->2 (A0->B 0.5 + A1->B 3) and the ejection port of
    # router 2 (the same 3.5): 3.5 messages at 1 ns each; longest live path A1 -> B: 2 hops,
    # 3 routers x 1 ns + 2 links x 2 ns = 7 ns -> drain 10.5 ns; barrier 0
    assert rec.time_network_s == pytest.approx(10.5e-9)
    assert rec.time_per_timestep_s == pytest.approx(17.5e-9)
    assert rec.latency_per_inference_s == pytest.approx(35e-9)
    assert rec.max_link_utilisation == pytest.approx(3.5 / 17.5)
    assert rec.step_model == "barrier" and not rec.saturated
    assert rec.bound == "network"


def test_per_timestep_activity_gives_the_peak_step() -> None:
    # same spikes as COUNTS, but all of A's fire in step 1: step 1 carries twice the mean load
    steps = {k: np.stack([np.zeros_like(v), v]) for k, v in COUNTS.items()}
    rec = estimate(
        two_layer_graph(),
        Activity(steps, timesteps=2, samples=1, source="test"),
        two_layer_chip(link_bandwidth_spikes_per_s=1e9),
        placement="sequential",
    )
    assert rec.peak_timestep == 1
    # step 0 is idle; step 1: B 14 synops = 14 ns compute; south link 1 + 6 = 7 messages
    # (7 ns) + the 7 ns path
    assert rec.step_times_s is not None
    assert rec.step_times_s.tolist() == pytest.approx([0.0, 28e-9])
    assert rec.time_per_timestep_peak_s == pytest.approx(28e-9)
    assert rec.time_per_timestep_s == pytest.approx(14e-9)
    assert rec.max_link_load_per_step == pytest.approx(7.0)
    # the mean over T matches the summed-count run's figures where they are linear
    assert rec.hops == pytest.approx(15) and rec.synops == pytest.approx(22)


def test_tick_model_flags_an_overrun_step() -> None:
    rec = estimate(
        two_layer_graph(),
        two_layer_activity(),
        two_layer_chip(link_bandwidth_spikes_per_s=1e8, timestep_s=20e-9),
        placement="sequential",
    )
    # drain: 3.5 messages at 10 ns = 35 ns + 7 ns path; + 7 ns compute = 49 ns > 20 ns tick
    assert rec.step_model == "tick"
    assert rec.saturated
    assert rec.time_per_timestep_s == pytest.approx(49e-9)
    assert any("overrun" in a for a in rec.assumptions)


def test_static_energy_is_power_times_inference_time() -> None:
    rec = estimate(
        two_layer_graph(),
        two_layer_activity(),
        two_layer_chip(power_static_w=0.5, timestep_s=1e-3),
        placement="sequential",
    )
    assert rec.time_per_timestep_s == pytest.approx(1e-3)  # the tick dominates
    assert rec.energy_static_j == pytest.approx(0.5 * 1e-3 * 2)


def test_missing_activity_uses_the_stated_rate() -> None:
    act = Activity({}, timesteps=4, rate=0.25, source="assumed")
    rec = estimate(two_layer_graph(), act, two_layer_chip(), placement="sequential")
    # every neuron fires 0.25 x 4 = 1 spike: A gets W_IN row sums (1, 2, 1, 0), B gets 4 each
    assert rec.synops == pytest.approx(4 + 8)
    assert rec.spikes == pytest.approx(6)


# --- geometry against a brute-force dense expansion --------------------------------------------
def dense_conv_mask(
    cin: int, h: int, w: int, cout: int, k: int, s: int, p: int, g: int
) -> tuple[np.ndarray, int, int]:
    """(N_out, N_in) connection mask by looping over the convolution definition."""
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    mask = np.zeros((cout * ho * wo, cin * h * w), dtype=bool)
    for co, oy, ox in itertools.product(range(cout), range(ho), range(wo)):
        grp = co // (cout // g)
        for ci in range(grp * (cin // g), (grp + 1) * (cin // g)):
            for ky, kx in itertools.product(range(k), range(k)):
                y, x = oy * s - p + ky, ox * s - p + kx
                if 0 <= y < h and 0 <= x < w:
                    mask[(co * ho + oy) * wo + ox, (ci * h + y) * w + x] = True
    return mask, ho, wo


@pytest.mark.parametrize(
    ("cin", "h", "w", "cout", "k", "s", "p", "g"),
    [
        (2, 5, 6, 3, 3, 1, 1, 1),
        (4, 7, 7, 4, 3, 2, 0, 2),
        (3, 6, 5, 6, 5, 1, 2, 3),
        (2, 8, 8, 2, 2, 2, 0, 2),
    ],
)
def test_conv_geometry_matches_dense_expansion(cin, h, w, cout, k, s, p, g) -> None:
    mask, ho, wo = dense_conv_mask(cin, h, w, cout, k, s, p, g)
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([cin, h, w])}),
            "conv": conv2d((h, w), (cout, cin // g, k, k), stride=s, padding=p, groups=g),
            "lif": lif((cout, ho, wo)),
        },
        edges=[("input", "conv"), ("conv", "lif")],
        type_check=False,  # nir 1.0's type inference ignores groups
    )
    proj = network_from_nir(graph).projections[0]
    counts = np.random.default_rng(0).poisson(2.0, cin * h * w).astype(float)
    assert incoming_events(proj, counts) == pytest.approx(mask @ counts)
    n_out = cout * ho * wo
    bounds = np.array([[0, n_out // 3], [n_out // 3, n_out // 3 + 5], [n_out // 3 + 5, n_out]])
    expected = np.stack([mask[a:b].any(axis=0) for a, b in bounds], axis=1)
    src, piece = target_pieces(proj, bounds)
    got = np.zeros_like(expected)
    got[src, piece] = True
    assert len(set(zip(src.tolist(), piece.tolist(), strict=True))) == src.size  # no duplicates
    np.testing.assert_array_equal(got, expected)


# --- Speck: one layer per core, sinabs memory formula -------------------------------------------
def small_cnn(c1: int = 8, c2: int = 16, k2: int = 3, *, speck: bool = False,
              neuron: str = "lif") -> nir.NIRGraph:
    """Conv, max-pool on spikes, conv, dense. `neuron="if"`: integrate-and-fire neurons (what
    TrueNorth and Speck run); `speck=True`: IF neurons and a plain sum-pool into conv2 (Speck has
    no max-pool), as sinabs maps it."""
    graph = _small_cnn(c1, c2, k2)
    if neuron == "if" or speck:
        for name, node in list(graph.nodes.items()):
            if isinstance(node, nir.LIF):
                shape = np.asarray(node.tau).shape
                graph.nodes[name] = nir.IF(r=np.ones(shape), v_threshold=np.ones(shape))
    if speck:
        del graph.nodes["pool1.spike"]
        graph.edges = [e for e in graph.edges if "pool1.spike" not in e] + [("pool1.sum", "conv2")]
    return graph


def _small_cnn(c1: int, c2: int, k2: int) -> nir.NIRGraph:
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([2, 16, 16])}),
            "conv1": conv2d((16, 16), (c1, 2, 3, 3), padding=1),
            "lif1": lif((c1, 16, 16)),
            "pool1.sum": nir.SumPool2d(
                kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])
            ),
            "pool1.spike": nir.Threshold(threshold=np.full((c1, 8, 8), 0.5)),
            "conv2": conv2d((8, 8), (c2, c1, k2, k2), padding=k2 // 2),
            "lif2": lif((c2, 8, 8)),
            "flat": nir.Flatten(input_type={"input": np.array([c2, 8, 8])}, start_dim=0),
            "fc": nir.Linear(weight=np.ones((10, c2 * 64))),
            "fc.lif": lif((10,)),
            "output": nir.Output(output_type={"output": np.array([10])}),
        },
        edges=[
            ("input", "conv1"),
            ("conv1", "lif1"),
            ("lif1", "pool1.sum"),
            ("pool1.sum", "pool1.spike"),
            ("pool1.spike", "conv2"),
            ("conv2", "lif2"),
            ("lif2", "flat"),
            ("flat", "fc"),
            ("fc", "fc.lif"),
            ("fc.lif", "output"),
        ],
    )


def test_speck_memory_formula_by_hand() -> None:
    net = network_from_nir(small_cnn())
    by_dst = {p.dst: p for p in net.projections}
    # conv1: Cin 2 * 2^(ceil log2 9 = 4 + ceil log2 8 = 3) = 256; neurons 8 * 2^(4 + 4) = 2048
    assert speck_kernel_words(by_dst["lif1"]) == 256
    assert speck_neuron_words(net.layer("lif1")) == 2048
    # conv2: 8 * 2^(4 + 4) = 2048; neurons 16 * 2^(3 + 3) = 1024
    assert speck_kernel_words(by_dst["lif2"]) == 2048
    assert speck_neuron_words(net.layer("lif2")) == 1024
    # fc as sinabs' conv with an 8x8 kernel over lif2's 16 channels: 16 * 2^(6 + 4) = 16384
    assert speck_kernel_words(by_dst["fc.lif"]) == 16384
    assert speck_neuron_words(net.layer("fc.lif")) == 10  # 10 * 2^(0 + 0)


def test_speck_maps_one_layer_per_core_within_memory() -> None:
    speck = load_chip("speck")
    rec = estimate(small_cnn(speck=True), None, speck)
    assert rec.feasible, rec.reasons
    # the sum-pooling runs on lif1's core, so three cores for three layers
    assert rec.cores_used == 3
    cores = {name: c.tolist() for name, c in rec.core_of_layer.items()}
    assert sorted(cores) == ["fc.lif", "lif1", "lif2"]
    assert all(len(c) == 1 for c in cores.values())
    assert len({c[0] for c in cores.values()}) == 3
    need = {"lif1": (256, 2048), "lif2": (2048, 1024), "fc.lif": (16384, 10)}
    for name, (kernel, neurons) in need.items():
        core = cores[name][0]
        assert speck.kernel_memory_words[core] >= kernel
        assert speck.neuron_memory_words[core] >= neurons


def test_speck_kernel_too_big_is_reported_not_crashed() -> None:
    # conv2 64 -> 64 channels... here 8 -> 512 with 5x5: 8 * 2^(5 + 9) = 131072 > 64K words
    rec = estimate(small_cnn(c2=512, k2=5), None, "speck")
    assert not rec.feasible
    assert any("lif2" in r and "kernel words" in r for r in rec.reasons)
    assert rec.energy_total_j is None and rec.energy_synops_j > 0


def test_speck_more_layers_than_cores_is_infeasible() -> None:
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type={"input": np.array([1, 4, 4])})}
    edges, prev = [], "input"
    for i in range(10):
        nodes[f"c{i}"] = conv2d((4, 4), (1, 1, 1, 1))
        nodes[f"l{i}"] = lif((1, 4, 4))
        edges += [(prev, f"c{i}"), (f"c{i}", f"l{i}")]
        prev = f"l{i}"
    rec = estimate(nir.NIRGraph(nodes=nodes, edges=edges), None, "speck")
    assert not rec.feasible
    assert any("10 spiking layers > 9 cores" in r for r in rec.reasons)


# --- too big, fan-in -----------------------------------------------------------------------------
def test_network_too_big_for_loihi_is_infeasible_with_reason() -> None:
    n = 200 * 1024  # 200 cores' worth of neurons at 1,024 per core, chip has 128
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([n])}), "lif": lif((n,))},
        edges=[("input", "lif")],
    )
    rec = estimate(graph, None, "loihi")
    assert not rec.feasible
    assert any("needs 200 cores" in r and "128" in r for r in rec.reasons)
    assert rec.hops is None and rec.time_per_timestep_s is None


def test_truenorth_fan_in_limit_is_reported() -> None:
    # a 3x3 conv over 64 channels needs 576 input axons per neuron; TrueNorth has 256 per core
    rec = estimate(small_cnn(c1=64), None, "truenorth")
    assert not rec.feasible
    assert any("lif2" in r and "input axons" in r for r in rec.reasons)


def test_pieces_respect_neurons_and_memory_limits() -> None:
    # 2x2 conv 8 -> 8 on 8x8: fan-in 32 synapses/neuron, 8 bits -> 256 bits per neuron;
    # 2048 bits of synapse memory -> at most 8 neurons per core (neuron limit 16)
    chip = chip_with(
        neurons_per_core=16,
        synapse_memory_bits_per_core=2048,
        synapse_weight_bits=8,
        rows=8,
        cols=8,
        cores_total=64,
    )
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([8, 9, 9])}),
            "conv": conv2d((9, 9), (8, 8, 2, 2)),
            "lif": lif((8, 8, 8)),
        },
        edges=[("input", "conv"), ("conv", "lif")],
    )
    part = partition(network_from_nir(graph), chip)
    assert part.reasons == ()
    sizes = [pc.size for pc in part.pieces]
    assert sizes == [8] * 64


def test_estimate_accepts_a_file_written_by_nir(tmp_path: Path) -> None:
    path = tmp_path / "net.nir"
    nir.write(str(path), small_cnn())
    rec = estimate(nir.read(str(path)), None, "loihi2")
    assert rec.feasible and rec.cores_used >= 3


# --- routing against a per-spike walk built from a dense connection matrix ----------------------
def xy_walk(src: int, dst: int, cols: int) -> list[tuple[int, int]]:
    r, c = divmod(src, cols)
    r2, c2 = divmod(dst, cols)
    hops = []
    while c != c2:
        step = 1 if c2 > c else -1
        hops.append((r * cols + c, r * cols + c + step))
        c += step
    while r != r2:
        step = 1 if r2 > r else -1
        hops.append((r * cols + c, (r + step) * cols + c))
        r += step
    return hops


@pytest.mark.parametrize("multicast", [False, True])
def test_link_loads_match_a_per_spike_walk(multicast: bool) -> None:
    from hwsim.mesh import Mesh

    mask, _, _ = dense_conv_mask(2, 6, 6, 4, 3, 1, 1, 1)  # (144, 72)
    fc = np.random.default_rng(3).random((5, 144)) < 0.3
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([2, 6, 6])}),
            "conv": conv2d((6, 6), (4, 2, 3, 3), padding=1),
            "lif": lif((4, 6, 6)),
            "flat": nir.Flatten(input_type={"input": np.array([4, 6, 6])}, start_dim=0),
            "fc": nir.Linear(weight=fc.astype(float)),
            "lif2": lif((5,)),
            "output": nir.Output(output_type={"output": np.array([5])}),
        },
        edges=[
            ("input", "conv"),
            ("conv", "lif"),
            ("lif", "flat"),
            ("flat", "fc"),
            ("fc", "lif2"),
            ("lif2", "output"),
        ],
    )
    chip = chip_with(
        rows=3, cols=3, cores_per_router=1, cores_total=9, neurons_per_core=20, multicast=multicast
    )
    rng = np.random.default_rng(4)
    counts = {
        "input": rng.poisson(1.0, 72).astype(float),
        "lif": rng.poisson(1.0, 144).astype(float),
        "lif2": rng.poisson(1.0, 5).astype(float),
    }
    rec = estimate(graph, Activity(counts, timesteps=4, source="t"), chip, placement="greedy")
    assert rec.feasible, rec.reasons
    # core of every destination neuron, from the pieces (20 neurons each, in order)
    core_lif = np.repeat(rec.core_of_layer["lif"], 20)[:144]
    core_lif2 = np.full(5, rec.core_of_layer["lif2"][0])
    senders = [  # (counts, source core per neuron (-1 host), dest cores of neuron i)
        (counts["input"], np.full(72, -1), [set(core_lif[mask[:, i]]) for i in range(72)]),
        (counts["lif"], core_lif, [set(core_lif2[fc[:, i]]) for i in range(144)]),
        (counts["lif2"], core_lif2, [{-1}] * 5),
    ]
    a, b = Mesh(3, 3).link_ends()
    link_id = {(int(x), int(y)): k for k, (x, y) in enumerate(zip(a, b, strict=True))}
    load = np.zeros(a.size)
    messages = 0.0
    for cnt, src_core, dests in senders:
        for i, dest in enumerate(dests):
            dest = dest - {int(src_core[i])}
            if not dest or cnt[i] == 0:
                continue
            src_router = max(int(src_core[i]), 0)  # host port at router 0
            walks = [xy_walk(src_router, max(d, 0), 3) for d in dest]
            if multicast:
                messages += cnt[i]
                for hop in set().union(*map(set, walks)):
                    load[link_id[hop]] += cnt[i]
            else:
                messages += cnt[i] * len(dest)
                for walk in walks:
                    for hop in walk:
                        load[link_id[hop]] += cnt[i]
    assert messages > 0 and load.sum() > 0
    assert rec.messages == pytest.approx(messages)
    np.testing.assert_allclose(rec.link_load_per_step * 4, load)
    assert rec.hops == pytest.approx(load.sum())


# --- refusals as data, the record's schema, the terms of a timestep -----------------------------
def test_refusals_carry_the_rule_the_layer_and_the_numbers() -> None:
    # 3x3 conv over 64 channels: 576 input axons per neuron; TrueNorth has 256 per core
    rec = estimate(small_cnn(c1=64, neuron="if"), None, "truenorth")
    (why,) = [r for r in rec.refusals if r.layer == "lif2"]
    assert (why.kind, why.needed, why.limit) == ("axons_per_core", 64 * 9, 256)
    assert rec.reasons == tuple(r.message for r in rec.refusals)
    json_ = rec.to_dict()
    assert {"kind": "axons_per_core", "layer": "lif2", "needed": 576, "limit": 256.0,
            "message": why.message} in json_["refusals"]
    assert json_["reasons"] == list(rec.reasons)


def test_a_core_budget_is_a_budget_refusal_not_a_chip_one() -> None:
    rec = estimate(two_layer_graph(), two_layer_activity(), two_layer_chip(), max_cores=2)
    (why,) = rec.refusals
    assert (why.kind, why.layer, why.needed, why.limit) == ("max_cores", None, 3, 2)
    assert why.is_budget
    chip_full = estimate(two_layer_graph(), two_layer_activity(), two_layer_chip(cores_total=2))
    assert [r.kind for r in chip_full.refusals] == ["chip_cores"]
    assert not chip_full.refusals[0].is_budget


def test_a_reason_of_an_unknown_kind_is_refused() -> None:
    from hwsim import Reason

    with pytest.raises(ValueError, match="Reason.kind"):
        Reason("too_big", None, 1, 0, "x")  # type: ignore[arg-type]


def test_quick_check_lists_every_layer_a_single_neuron_breaks() -> None:
    from hwsim import fit_reasons

    # TrueNorth's 256 axons per core: conv2 (3x3 over 64 channels) needs 576 per neuron, fc
    # (16 x 8 x 8 inputs) 1,024: both layers are named, not only the first in layer order
    graph = small_cnn(c1=64, neuron="if")
    quick = fit_reasons(graph, "truenorth", quick=True)
    assert [(r.layer, r.needed) for r in quick] == [("lif2", 576), ("fc.lif", 1024)]
    assert set(quick) <= set(fit_reasons(graph, "truenorth"))


def test_record_keys_are_the_dataclass_fields() -> None:
    from dataclasses import fields

    from hwsim.record import RECORD_KEYS, CostRecord

    rec = estimate(two_layer_graph(), two_layer_activity(), two_layer_chip())
    shown = {f.name for f in fields(CostRecord) if f.repr}
    assert set(RECORD_KEYS) < shown and "refusals" not in RECORD_KEYS
    assert {"splitter_cores", "time_terms_s", "critical_layer"} <= set(RECORD_KEYS)
    out = rec.to_dict()
    for key in RECORD_KEYS:
        assert key in out, key


def test_time_terms_add_up_to_the_timestep_on_a_serial_core() -> None:
    chip = two_layer_chip(link_bandwidth_spikes_per_s=1e9, latency_neuron_update_s=2e-9,
                          latency_barrier_s=5e-9)
    rec = estimate(two_layer_graph(), two_layer_activity(), chip, placement="sequential")
    terms = rec.time_terms_s
    # B's core is the busiest: A's 7 spikes over T = 2 reach both B neurons, 7 synops x 1 ns =
    # 7 ns of dense synaptic events per step, and its 2 neurons swept at 2 ns each = 4 ns
    assert rec.critical_layer == "B"
    assert terms["synops_dense"] == pytest.approx(7e-9)
    assert terms["neuron_sweep"] == pytest.approx(4e-9)
    assert terms["barrier"] == pytest.approx(5e-9) and terms["tick"] == 0.0
    core = sum(v for k, v in terms.items() if k not in ("network", "barrier", "tick"))
    assert core == pytest.approx(rec.time_compute_s)
    assert core + terms["network"] + terms["barrier"] == pytest.approx(rec.time_per_timestep_s)


# --- one memory pool per core (Loihi 2): neuron state + synapses + input axons ----------------


def pool_chip(**core: object) -> ChipSpec:
    """generic-mesh (256 neurons, 1 Mbit of synapses per core: neither binds here) with the
    optional pool figures of `core` (absent ones keep their defaults: no pool)."""
    data = yaml.safe_load((builtin_chip_dir() / "generic-mesh.yaml").read_text())
    for key, value in core.items():
        data["core"][key] = {"value": value, "source": "test"}
    return parse_chip(data, "test.yaml")


def one_dense_layer(n_in: int = 10, n_out: int = 6) -> nir.NIRGraph:
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([n_in])}),
            "w": nir.Linear(weight=np.ones((n_out, n_in))),
            "lif": lif((n_out,)),
        },
        edges=[("input", "w"), ("w", "lif")],
    )


def test_memory_pool_counts_state_dense_synapses_and_axons_by_hand() -> None:
    net = network_from_nir(one_dense_layer())
    pooled = dict(memory_pool_bits_per_core=120, neuron_state_bits=10, axon_bits=2)
    # a neuron: 10 state bits + 10 connections x 4 bits = 50; a piece reads all 10 inputs:
    # 10 axons x 2 bits = 20. Two neurons: 120 <= 120; three: 170 > 120 -> pieces 2, 2, 2
    part = partition(net, pool_chip(**pooled, synapse_weight_bits_dense=4))
    assert part.reasons == () and [pc.size for pc in part.pieces] == [2, 2, 2]
    # without the dense figure a connection costs synapse_weight_bits (8): one neuron is
    # 10 + 80 + 20 = 110 <= 120, two are 200 -> six pieces of one
    part = partition(net, pool_chip(**pooled))
    assert [pc.size for pc in part.pieces] == [1] * 6
    # a pool of 100 holds no neuron at all: refused, naming the pool and its numbers
    part = partition(net, pool_chip(**{**pooled, "memory_pool_bits_per_core": 100}))
    (why,) = part.refusals
    assert (why.kind, why.layer, why.needed, why.limit) == ("synapse_memory", "lif", 110, 100)
    assert "memory pool" in why.message
    # no pool figure: today's separate budgets, the layer on one core
    assert [pc.size for pc in partition(net, pool_chip()).pieces] == [6]


def test_memory_pool_charges_a_shared_kernel_once_per_channel_by_hand() -> None:
    # conv 2 -> 3 channels, 3x3, pad 1 on 4x4: 16 neurons per channel; the kernel of one output
    # channel is 2 x 3 x 3 = 18 weights x 8 bits = 144 bits, stored once per channel in a piece
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([2, 4, 4])}),
            "conv": conv2d((4, 4), (3, 2, 3, 3), padding=1),
            "lif": lif((3, 4, 4)),
        },
        edges=[("input", "conv"), ("conv", "lif")],
    )
    net = network_from_nir(graph)
    figures = dict(shared_weights=True, neuron_state_bits=4, axon_bits=1)
    # a whole channel: 16 x 4 state + 144 kernel + 2 x 4 x 4 input axons x 1 = 240
    part = partition(net, pool_chip(**figures, memory_pool_bits_per_core=240))
    assert [pc.size for pc in part.pieces] == [16, 16, 16]
    # one bit less: 15 neurons (4 rows, still every input row and column: 60 + 144 + 32 = 236)
    # fit, the 16th alone reads a 3x3 window of 2 channels (4 + 144 + 18 = 166) and cannot
    # take the next channel's first neuron (a second kernel: 144 more)
    part = partition(net, pool_chip(**figures, memory_pool_bits_per_core=239))
    assert [pc.size for pc in part.pieces] == [15, 1] * 3


def test_loihi2_pool_is_the_briefs_128_kb_with_fitted_bits() -> None:
    chip = load_chip("loihi2")
    assert chip.memory_pool_bits_per_core == 128 * 1024 * 8
    for name in ("neuron_state_bits", "axon_bits", "synapse_weight_bits_dense"):
        assert chip.provenance[f"core.{name}"].startswith("FITTED:"), name
        assert name in chip.ranges
    # the other built-in chips keep separate budgets (no pool)
    assert load_chip("loihi").memory_pool_bits_per_core == float("inf")
