"""Chip capabilities: a network a chip cannot run is refused with the rule named, before any cost
(a leaky network on Speck, 5 distinct weights into a TrueNorth neuron, max-pool on Speck)."""

from __future__ import annotations

import json
from pathlib import Path

import nir
import numpy as np
import pytest
import yaml

from hwsim import HwsimInputError, estimate, fit_reasons, list_chips, load_chip
from hwsim.capabilities import capability_reasons, distinct_per_row
from hwsim.chip import builtin_chip_dir, parse_chip
from hwsim.network import network_from_nir
from hwsim.reasons import CAPABILITY_KINDS, KINDS


def _lif(shape: tuple[int, ...], tau: float) -> nir.LIF:
    return nir.LIF(tau=np.full(shape, tau), r=np.ones(shape), v_leak=np.zeros(shape),
                   v_threshold=np.ones(shape))


def _if(shape: tuple[int, ...]) -> nir.IF:
    return nir.IF(r=np.ones(shape), v_threshold=np.ones(shape))


def conv_net(weight: np.ndarray, neuron: str = "if", *, stride: int = 1, pool: str = "",
             bias: np.ndarray | None = None) -> nir.NIRGraph:
    """input (1, 8, 8) -> conv (weight, padding k//2) -> neuron [-> 2x2 pool -> (Threshold)]."""
    c, k = weight.shape[0], weight.shape[2]
    hw = (8 + 2 * (k // 2) - k) // stride + 1
    shape = (c, hw, hw)
    cell = {"if": _if(shape), "lif": _lif(shape, 1e-3), "lif_inf": _lif(shape, np.inf)}[neuron]
    nodes: dict[str, nir.NIRNode] = {
        "input": nir.Input(input_type={"input": np.array([1, 8, 8])}),
        "conv": nir.Conv2d(input_shape=(8, 8), weight=weight, stride=stride, padding=k // 2,
                           dilation=1, groups=1,
                           bias=np.zeros(c) if bias is None else bias),
        "cell": cell,
    }
    edges = [("input", "conv"), ("conv", "cell")]
    last, out = "cell", shape
    if pool:
        nodes["pool"] = nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                      padding=np.array([0, 0]))
        edges.append(("cell", "pool"))
        last, out = "pool", (c, hw // 2, hw // 2)
        if pool == "max":  # max-pool on spikes: at least one spike in the window
            nodes["any"] = nir.Threshold(threshold=np.full(out, 0.5))
            edges.append(("pool", "any"))
            last = "any"
        else:  # a sum-pool read by a spiking layer
            nodes["conv2"] = nir.Conv2d(input_shape=out[1:], weight=np.ones((2, c, 1, 1)),
                                        stride=1, padding=0, dilation=1, groups=1,
                                        bias=np.zeros(2))
            nodes["cell2"] = _if((2, *out[1:]))
            edges += [("pool", "conv2"), ("conv2", "cell2")]
            last, out = "cell2", (2, *out[1:])
    nodes["output"] = nir.Output(output_type={"output": np.array(out)})
    edges.append((last, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges)


def kernel_with_values(values: list[float], channels: int = 2) -> np.ndarray:
    """A 3x3 kernel per output channel holding exactly `values` (then zeros: no synapse)."""
    w = np.zeros((channels, 1, 3, 3))
    flat = w.reshape(channels, -1)
    flat[:, : len(values)] = values
    return w


def test_a_leaky_lif_network_on_speck_is_refused_naming_the_neuron_model_rule() -> None:
    graph = conv_net(np.ones((2, 1, 3, 3)), "lif")
    rec = estimate(graph, None, "speck")
    assert not rec.feasible
    why = rec.refusals[0]
    assert (why.kind, why.layer) == ("neuron_model", "cell")
    assert "leaky" in why.message and "sinabs" in why.message
    assert rec.energy_total_j is None and rec.time_per_timestep_s is None
    assert fit_reasons(graph, "speck", quick=True) == (why,)
    assert fit_reasons(graph, "speck")[0] == why


def test_an_if_network_and_a_lif_with_infinite_tau_pass_the_neuron_rule_on_speck() -> None:
    for neuron in ("if", "lif_inf"):
        graph = conv_net(np.ones((2, 1, 3, 3)), neuron)
        assert not [r for r in fit_reasons(graph, "speck") if r.kind == "neuron_model"]
        assert estimate(graph, None, "speck").feasible
    # the same LIF with a finite tau is leaky on TrueNorth too, fine on Loihi
    leaky = conv_net(np.ones((2, 1, 3, 3)), "lif")
    assert [r.kind for r in capability_reasons(leaky, "truenorth")] == ["neuron_model"]
    assert capability_reasons(leaky, "loihi") == ()


def test_five_distinct_weights_into_one_neuron_on_truenorth_are_refused_four_pass() -> None:
    five = conv_net(kernel_with_values([1.0, 2.0, -1.0, 0.5, 3.0]))
    rec = estimate(five, None, "truenorth")
    assert not rec.feasible
    (why,) = [r for r in rec.refusals if r.is_capability]
    assert (why.kind, why.layer, why.needed, why.limit) == ("distinct_weights", "conv", 5, 4)
    assert "4 types" in why.message and "Merolla" in why.message  # the rule and its source
    four = conv_net(kernel_with_values([1.0, 2.0, -1.0, 0.5, 2.0, 1.0]))  # repeats, 4 values
    assert not [r for r in fit_reasons(four, "truenorth") if r.kind == "distinct_weights"]
    assert estimate(four, None, "truenorth").feasible
    # Loihi has no such rule
    assert capability_reasons(five, "loihi") == ()


def test_the_cli_refuses_a_five_valued_kernel_on_truenorth_from_a_nir_file(tmp_path) -> None:
    # hwsim estimate reads the file into a Network; the rule must still see the weights
    from typer.testing import CliRunner

    from hwsim.cli import app

    path = tmp_path / "five.nir"
    nir.write(str(path), conv_net(kernel_with_values([1.0, 2.0, -1.0, 0.5, 3.0])))
    res = CliRunner().invoke(app, ["estimate", str(path), "--chip", "truenorth", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert not out["feasible"]
    assert [r["kind"] for r in out["refusals"]] == ["distinct_weights"]


def test_distinct_weights_count_non_zero_values_per_neuron_by_hand() -> None:
    w = np.array([[0.0, 1.0, 1.0, 2.0], [0.0, 0.0, 0.0, 0.0], [3.0, -3.0, 3.0, 0.5]])
    assert distinct_per_row(w).tolist() == [2, 0, 3]


def test_max_pool_on_speck_is_refused_sum_pool_is_not() -> None:
    weight = np.ones((2, 1, 3, 3))
    why = capability_reasons(conv_net(weight, pool="max"), "speck")
    assert [(r.kind, r.layer) for r in why] == [("pooling", "pool")]
    assert "max-pooling" in why[0].message
    assert capability_reasons(conv_net(weight, pool="sum"), "speck") == ()
    # the same max-pool on hwsim's network (structure only) is refused too
    net = network_from_nir(conv_net(weight, pool="max"))
    assert [r.kind for r in capability_reasons(net, "speck")] == ["pooling"]


def test_speck_stride_kernel_and_bias_rules() -> None:
    stride3 = conv_net(np.ones((2, 1, 3, 3)), stride=3)
    assert [(r.kind, r.needed, r.limit) for r in capability_reasons(stride3, "speck")] == [
        ("stride", 3, 8)]
    assert capability_reasons(conv_net(np.ones((2, 1, 3, 3)), stride=2), "speck") == ()
    big = conv_net(np.ones((2, 1, 17, 17)))
    assert [(r.kind, r.needed, r.limit) for r in capability_reasons(big, "speck")][0] == (
        "kernel", 17, 16)
    # 1,025 biased channels > the 1,024 bias entries of a Speck core; 1,024 fit
    many = conv_net(np.ones((1025, 1, 1, 1)), bias=np.ones(1025))
    assert [(r.kind, r.needed, r.limit) for r in capability_reasons(many, "speck")] == [
        ("bias", 1025, 1024)]
    assert capability_reasons(conv_net(np.ones((1024, 1, 1, 1)), bias=np.ones(1024)),
                              "speck") == ()


def test_capability_kinds_are_reason_kinds() -> None:
    assert CAPABILITY_KINDS <= KINDS
    assert {"neuron_model", "pooling", "distinct_weights", "bias", "stride"} <= CAPABILITY_KINDS


@pytest.mark.parametrize("name", list_chips())
def test_every_built_in_profile_loads_with_its_capabilities_sourced(name: str) -> None:
    caps = load_chip(name).capabilities
    assert caps.neuron_models and set(caps.neuron_models) <= {"lif", "cuba_lif", "if", "graded"}
    assert all(text.strip() for text in caps.provenance.values())
    if name.startswith(("speck", "truenorth")):
        assert "lif" not in caps.neuron_models and "cuba_lif" not in caps.neuron_models


def test_boards_inherit_their_chip_capabilities() -> None:
    assert load_chip("truenorth-ns16e").capabilities == load_chip("truenorth").capabilities
    assert load_chip("truenorth").capabilities.distinct_weights_per_neuron == 4
    assert load_chip("speck").capabilities.strides == (1, 2, 4, 8)


TEMPLATE = yaml.safe_load((builtin_chip_dir() / "speck.yaml").read_text())


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"neuron_models": {"value": ["lif", "adex"], "source": "x"}},
         "capabilities.neuron_models.value"),
        ({"neuron_models": {"value": [], "source": "x"}}, "capabilities.neuron_models.value"),
        ({"pooling": {"value": "max", "source": "x"}}, "capabilities.pooling.value"),
        ({"strides": {"value": [1, 0], "source": "x"}}, "capabilities.strides.value"),
        ({"max_kernel": {"value": -1, "source": "x"}}, "capabilities.max_kernel.value"),
        ({"bias": {"value": "yes", "source": "x"}}, "capabilities.bias.value"),
        ({"max_kernel": {"value": 16}}, "capabilities.max_kernel.source"),
        ({"max_kernel": {"value": None, "assumed": 16}}, "capabilities.max_kernel.assumption"),
        ({"max_kernal": {"value": 16, "source": "x"}}, "capabilities.max_kernal"),
        ({"strides": [1, 2]}, "capabilities.strides"),
    ],
)
def test_a_bad_capabilities_entry_is_one_line_naming_the_field(
    entry: dict, field: str, tmp_path: Path
) -> None:
    data = {**TEMPLATE, "capabilities": {**TEMPLATE["capabilities"], **entry}}
    with pytest.raises(HwsimInputError) as err:
        parse_chip(data, "bad.yaml")
    assert err.value.field == field
    assert "\n" not in str(err.value) and str(err.value).startswith("bad.yaml: " + field)


def test_a_profile_without_capabilities_allows_every_network() -> None:
    data = {k: v for k, v in TEMPLATE.items() if k != "capabilities"}
    chip = parse_chip(data, "plain.yaml")
    assert capability_reasons(conv_net(np.ones((2, 1, 3, 3)), "lif", pool="max"), chip) == ()


# --- per-event figures: TrueNorth's static power once, SpiNNaker 2 timed as software ----------
def test_truenorth_static_power_is_counted_once_at_merolla_s_benchmark_point() -> None:
    # Merolla 2014: 72 mW all-in at 20 Hz, 128 active synapses per neuron, 2^20 neurons; 42 mW of
    # it static. Active synaptic energy + static + routing must add up to 72 mW, not 72 + 42.
    tn = load_chip("truenorth")
    events = 2**20 * 20 * 128  # synaptic events per second
    routing = 2**20 * 20 * 42.6 * tn.energy_hop_j  # 42.6 mean hops per spike
    total = tn.energy_synop_j * events + tn.power_static_w + routing
    assert total == pytest.approx(0.072, rel=0.03)
    assert "static power is counted once" in tn.provenance["energy.energy_synop_j"]


def test_spinnaker2_synaptic_events_are_timed_as_software_on_its_arm_cores() -> None:
    sp2, loihi = load_chip("spinnaker2"), load_chip("loihi")
    # tens of Arm cycles per event at a few hundred MHz: 10 ns .. 1 us, not Loihi's 3.5 ns
    assert 1e-8 <= sp2.latency_synop_s <= 1e-6 and sp2.latency_synop_s > 5 * loihi.latency_synop_s
    assert 1e-7 <= sp2.latency_neuron_update_s <= 1e-5
    assert sp2.latency_message_in_s > 0 and sp2.energy_message_in_j > 0  # per received packet
    # every per-event figure says it is assumed, why, and how far off it may be
    for key in ("energy.energy_synop_j", "timing.latency_synop_s", "timing.latency_neuron_update_s"):
        assert sp2.provenance[key].startswith("ASSUMED:") and "Arm cycles" in sp2.provenance[key]
    assert {"energy_synop_j", "latency_synop_s", "power_static_w"} <= set(sp2.ranges)
    assert sp2.power_static_w < 1.0  # SpiNNaker 1's 1 W running draw is not static power


def test_hwsim_network_keeps_the_neuron_type_so_the_model_rule_holds_without_the_graph() -> None:
    weight = np.ones((2, 1, 3, 3))
    leaky = network_from_nir(conv_net(weight, "lif"))
    assert [(r.kind, r.layer) for r in fit_reasons(leaky, "speck")][:1] == [("neuron_model", "cell")]
    assert fit_reasons(network_from_nir(conv_net(weight, "if")), "speck") == ()
    # speck's stride rule from the network's conv geometry
    strided = network_from_nir(conv_net(weight, stride=3))
    assert [r.kind for r in capability_reasons(strided, "speck")] == ["stride"]


@pytest.mark.parametrize("bias", [np.array([np.nan, 0.0]), np.array([b"x", b"y"])])
def test_a_bad_bias_is_one_line_not_a_traceback(bias: np.ndarray) -> None:
    graph = conv_net(np.ones((2, 1, 3, 3)), bias=bias)
    for call in (lambda: fit_reasons(graph, "speck"), lambda: estimate(graph, None, "speck")):
        with pytest.raises(HwsimInputError) as err:
            call()
        assert "conv" in err.value.field and "\n" not in str(err.value)
