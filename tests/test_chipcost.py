"""The chip-cost adapter: hwsim costs as a search fitness."""

from __future__ import annotations

import math

import pytest

from autosnn.app.chipcost import ChipCost, ChipTarget, chip_fitness, chip_path
from autosnn.core.errors import AutosnnError
from autosnn.search.fitness import Evaluation

ARCH = dict(space="snn1", channels=4, num_classes=10, input_shape=(1, 32, 32), timesteps=4)
G = ("SRB_k3", "skip", "SCB_k3", "skip", "SRB_k3")


@pytest.fixture(scope="module")
def loihi2() -> ChipCost:
    return ChipCost(ChipTarget("loihi2"), **ARCH)  # type: ignore[arg-type]


def test_more_spikes_cost_more_energy_on_the_same_architecture(loihi2: ChipCost) -> None:
    assert loihi2.cost(G, 2000.0) < loihi2.cost(G, 8000.0)


def test_chip_fitness_discounts_costly_architectures_like_eq3(loihi2: ChipCost) -> None:
    ref = loihi2.cost(G, 4000.0)
    f = chip_fitness(-0.5, loihi2, ref)
    cheap, costly = Evaluation(G, 0.8, 2000.0), Evaluation(G, 0.8, 8000.0)
    assert f(cheap) > 0.8 > f(costly)
    expected = 0.8 * (loihi2.cost(G, 8000.0) / ref) ** -0.5
    assert f(costly) == pytest.approx(expected)
    assert chip_fitness(0.0, loihi2, ref)(costly) == 0.8


def test_network_that_does_not_fit_scores_zero() -> None:
    speck = ChipCost(ChipTarget("speck"), **{**ARCH, "channels": 64})  # type: ignore[arg-type]
    assert math.isinf(speck.cost(G, 1000.0))
    assert chip_fitness(-0.1, speck, 1.0)(Evaluation(G, 0.9, 1000.0)) == 0.0


def test_positive_lambda_and_bad_chip_are_clear_errors(loihi2: ChipCost) -> None:
    with pytest.raises(AutosnnError, match="lambda"):
        chip_fitness(0.3, loihi2, 1.0)
    with pytest.raises(AutosnnError, match="nochip"):
        ChipCost(ChipTarget("nochip.yaml"), **ARCH)  # type: ignore[arg-type]


def test_builtin_profile_named_with_yaml_suffix_resolves() -> None:
    assert chip_path("loihi2.yaml") == "loihi2"
    assert chip_path("some/dir/x.yaml") == "some/dir/x.yaml"
