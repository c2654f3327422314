"""Splitter neurons (hwsim.splitters): hand-counted relays on a chip whose neurons reach one core."""

from __future__ import annotations

from dataclasses import replace

import nir
import numpy as np
import pytest

from hwsim import Activity, estimate, fit_reasons, load_chip
from tests.test_hwsim_model import lif, two_layer_chip

# input (2) -> A (2 neurons, one core) -> all-to-all -> B (4 neurons: two cores of 2) -> output.
# Every A neuron reaches both B cores; with one core per neuron it needs 2 splitter neurons.
COUNTS = {"input": np.array([2.0, 2.0]), "A": np.array([1.0, 3.0]), "B": np.zeros(4)}


def graph() -> nir.NIRGraph:
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([2])}),
            "w1": nir.Linear(weight=np.eye(2)),
            "A": lif((2,)),
            "w2": nir.Linear(weight=np.ones((4, 2))),
            "B": lif((4,)),
            "output": nir.Output(output_type={"output": np.array([4])}),
        },
        edges=[("input", "w1"), ("w1", "A"), ("A", "w2"), ("w2", "B"), ("B", "output")],
    )


def chip(fan_out: float, splitters: bool):  # type: ignore[no-untyped-def]
    base = two_layer_chip(rows=3, cols=2, cores_total=6, fan_out_cores_per_neuron=fan_out)
    return replace(base, splitter_neurons=splitters)


def cost(fan_out: float, splitters: bool):  # type: ignore[no-untyped-def]
    act = Activity(COUNTS, timesteps=2, samples=1, source="test")
    return estimate(graph(), act, chip(fan_out, splitters), placement="sequential")


def test_one_core_per_neuron_without_splitters_is_infeasible_and_says_so() -> None:
    rec = cost(1, False)
    assert not rec.feasible
    assert any("layer A" in r and "targets 2 cores > 1" in r and "splitter" in r
               for r in rec.reasons)


def test_splitters_cost_exactly_the_hand_counted_cores_energy_and_latency() -> None:
    free, relayed = cost(float("inf"), False), cost(1, True)
    assert free.feasible and relayed.feasible
    # 2 A neurons x 2 copies = 4 splitter neurons; 2 neurons per core, first fit -> 2 cores
    assert (relayed.splitter_neurons, relayed.splitter_cores) == (4, 2)
    assert relayed.cores_used == free.cores_used + 2 == 5
    # relayed spikes 1 + 3 = 4 (each: 1 hop 3 pJ + router 0.5 pJ); copies 8 (each a 1 pJ synop);
    # 4 splitter neurons x T=2 updates x 2 pJ
    assert relayed.energy_splitters_j == pytest.approx(4 * 3.5e-12 + 8 * 1e-12 + 16e-12)
    assert relayed.energy_dynamic_j == pytest.approx(free.energy_dynamic_j + 38e-12)
    # one relay stage on the path input -> A -> B: one more timestep per inference
    assert relayed.time_per_timestep_s == pytest.approx(free.time_per_timestep_s)
    assert relayed.latency_per_inference_s == pytest.approx(
        free.latency_per_inference_s + free.time_per_timestep_s
    )
    assert any("splitter neurons" in a for a in relayed.assumptions)


def test_splitter_cores_count_against_the_chip() -> None:
    base = two_layer_chip(rows=2, cols=2, cores_total=4, fan_out_cores_per_neuron=1)
    act = Activity(COUNTS, timesteps=2, samples=1, source="test")
    rec = estimate(graph(), act, replace(base, splitter_neurons=True), placement="sequential")
    assert not rec.feasible
    assert any("needs 5 cores (3 + 2 splitter cores)" in r for r in rec.reasons)


def test_only_truenorth_opts_in_to_splitters() -> None:
    assert load_chip("truenorth").splitter_neurons
    assert not load_chip("loihi2").splitter_neurons


@pytest.mark.parametrize(("fan_out", "splitters", "cores"), [
    (float("inf"), False, 6), (1, True, 6), (1, False, 6), (1, True, 4),
])
def test_structural_check_agrees_with_the_estimate(fan_out, splitters, cores) -> None:  # type: ignore[no-untyped-def]
    base = two_layer_chip(rows=3 if cores == 6 else 2, cols=2, cores_total=cores,
                          fan_out_cores_per_neuron=fan_out)
    profile = replace(base, splitter_neurons=splitters)
    act = Activity(COUNTS, timesteps=2, samples=1, source="test")
    rec = estimate(graph(), act, profile)
    assert fit_reasons(graph(), profile) == rec.refusals
    assert fit_reasons(graph(), profile, quick=True) == rec.refusals  # no single neuron fails


def test_the_fast_verdict_names_a_rule_no_cut_can_meet() -> None:
    # 9 axons per neuron (3x3 conv over 1 channel) on a chip with 4 axons per core: no piece fits
    graph_ = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([1, 6, 6])}),
            "conv": nir.Conv2d(input_shape=(6, 6), weight=np.ones((2, 1, 3, 3)), stride=1,
                               padding=1, dilation=1, groups=1, bias=np.zeros(2)),
            "lif": lif((2, 6, 6)),
            "output": nir.Output(output_type={"output": np.array([2, 6, 6])}),
        },
        edges=[("input", "conv"), ("conv", "lif"), ("lif", "output")],
    )
    profile = two_layer_chip(neurons_per_core=256, fan_in_axons_per_core=4)
    (why,) = fit_reasons(graph_, profile, quick=True)
    assert "layer lif: a single neuron needs 9 input axons > 4 per core" == why.message
    assert (why.kind, why.layer, why.needed, why.limit) == ("axons_per_core", "lif", 9, 4)
    assert why in fit_reasons(graph_, profile)
