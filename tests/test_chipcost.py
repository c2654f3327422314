"""The chip-cost adapter (measured activity -> hwsim cost, budgets) and choosing lambda per chip."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from autosnn.app.chipcost import Budgets, ChipCost, ChipTarget, chip_path
from autosnn.core.build import build
from autosnn.core.errors import AutosnnError
from autosnn.core.spaces import get_space
from autosnn.search.fitness import Evaluation, make_fitness
from autosnn.search.select import SweepPoint, knee
from hwsim.chip import builtin_chip_dir

T = 4
ARCH = dict(channels=4, num_classes=10, input_shape=(1, 32, 32), timesteps=T)
G = ("SRB_k3", "skip", "SCB_k3", "skip", "SRB_k3")


def measured(g: tuple[str, ...], per_step: float, acc: float = 0.8, *,
             hot: str | None = None) -> Evaluation:
    """An evaluation whose every spiking layer fires ``per_step`` spikes per timestep (``hot``
    fires 10x as much), with the names the search measures."""
    net = build("snn1", g, **ARCH)  # type: ignore[arg-type]
    names = [n for n, _ in net.active_spiking_layers()]
    act = {n: (per_step * (10 if n == hot else 1),) * T for n in names}
    act["input"] = (1024.0,) * T
    total = sum(sum(v) for k, v in act.items() if k != "input")
    return Evaluation(g, acc, total, act)


def chip(name: str = "loihi2", **kw) -> ChipCost:  # type: ignore[no-untyped-def]
    return ChipCost(ChipTarget(name, **kw), space=get_space("snn1"), **ARCH)  # type: ignore[arg-type]


def test_more_spikes_cost_more_energy_on_the_same_architecture() -> None:
    c = chip()
    assert c.cost(measured(G, 50.0)) < c.cost(measured(G, 200.0))


def test_where_the_spikes_are_reaches_the_chip_model() -> None:
    # Same total spikes, placed in another layer: a per-layer measurement changes the cost (a
    # uniform rate over all neurons could not).
    c = chip(metric="latency")
    a = measured(G, 50.0, hot="stem.lif")
    b = measured(G, 50.0, hot="head.lifs.0")
    assert a.spikes == b.spikes
    assert c.cost(a) != c.cost(b)


def test_chip_fitness_discounts_costly_architectures_like_eq3() -> None:
    c = chip()
    cheap, costly = measured(G, 50.0), measured(G, 200.0)
    ref = c.cost(measured(G, 100.0))
    f = make_fitness("power", -0.5, ref, c.cost)
    assert f(cheap) > 0.8 > f(costly)
    assert f(costly) == pytest.approx(0.8 * (c.cost(costly) / ref) ** -0.5)
    lin = make_fitness("linear", -0.5, ref, c.cost)
    assert lin(costly) == pytest.approx(0.8 * (1 - 0.5 * (c.cost(costly) / ref - 1)))


def test_budget_breach_is_infeasible_with_the_binding_constraint() -> None:
    free = chip()
    e = measured(G, 100.0)
    rec = free.record(e)
    tight = chip(budgets=Budgets(max_latency_s=rec.time_per_timestep_s / 2))
    assert free.binding(e) is None and math.isfinite(free.cost(e))
    assert "--max-latency" in tight.binding(e)
    assert math.isinf(tight.cost(e))
    assert make_fitness("power", -0.1, 1.0, tight.cost)(e) == -math.inf  # never a winner


def test_network_that_does_not_fit_is_infeasible_and_names_the_rule() -> None:
    big = ChipCost(ChipTarget("speck"), space=get_space("snn1"),
                   **{**ARCH, "channels": 64})  # type: ignore[arg-type]
    e = Evaluation(G, 0.9, 1.0, None)
    with pytest.raises(AutosnnError, match="no measured activity"):
        big.cost(e)
    net_e = measured(G, 10.0)
    small = chip("speck")
    assert small.binding(net_e) is None or "does not fit" in small.binding(net_e)


def test_bad_budget_and_bad_chip_are_clear_errors() -> None:
    with pytest.raises(AutosnnError, match="max-cores"):
        Budgets(max_cores=0)
    with pytest.raises(AutosnnError, match="max-energy"):
        Budgets(max_energy_j=float("nan"))
    with pytest.raises(AutosnnError, match="nochip"):
        chip("nochip.yaml")
    with pytest.raises(AutosnnError, match="chip metric"):
        ChipTarget("loihi2", metric="watts")


def test_builtin_profile_named_with_yaml_suffix_resolves() -> None:
    assert chip_path("loihi2.yaml") == "loihi2"
    assert chip_path("some/dir/x.yaml") == "some/dir/x.yaml"


# -- choosing lambda (toy costs) ----------------------------------------------------------
SWEEP = [  # lambda, accuracy, cost: accuracy saturates while cost keeps falling
    SweepPoint("0", 0.0, 0.90, 10.0),
    SweepPoint("-0.08", -0.08, 0.89, 6.0),
    SweepPoint("-0.16", -0.16, 0.88, 3.0),
    SweepPoint("-0.24", -0.24, 0.70, 2.5),
]


def test_the_knee_is_the_point_farthest_above_the_cheapest_to_best_line() -> None:
    assert knee(SWEEP).key == "-0.16"  # big cost drop for 2 points of accuracy; then a cliff
    # a straight trade-off has no knee: the most accurate wins
    line = [SweepPoint(str(i), -i / 10, 0.5 + i / 10, 1.0 + i) for i in range(4)]
    assert knee(line).key == "3"


# -- typed refusals, the binding rule, floors --------------------------------------------------
def test_a_budget_breach_is_a_typed_reason_with_the_numbers() -> None:
    e = measured(G, 100.0)
    t = chip().record(e).time_per_timestep_s
    assert t is not None
    (why,) = chip(budgets=Budgets(max_latency_s=t / 2)).breach(e)
    assert (why.kind, why.layer, why.needed, why.limit) == ("max_latency", None, t, t / 2)
    assert why.is_budget and "--max-latency" in why.message
    assert chip(budgets=Budgets(max_latency_s=t * 2)).breach(e) == ()


def test_the_rule_that_refuses_most_architectures_is_named_not_the_first_in_layer_order(
    tmp_path: Path,
) -> None:
    # TrueNorth (256 input axons per core) at C = 8: the head's neurons need 512 axons whatever
    # the body; a 5x5 block in the body breaks the rule earlier in layer order as well. The stock
    # profile refuses PLIF (a leaky neuron) on every layer first (its capabilities: section), so
    # this takes TrueNorth's figures without it, to exercise the per-core rules
    text = (builtin_chip_dir() / "truenorth.yaml").read_text().split("\ncapabilities:")[0]
    (tmp_path / "tn.yaml").write_text(text + "\n")
    tn = ChipCost(ChipTarget(str(tmp_path / "tn.yaml")), space=get_space("snn1"),
                  **{**ARCH, "channels": 8})  # type: ignore[arg-type]
    k5 = ("skip", "skip", "SCB_k5", "SCB_k5", "skip")
    genotypes = [("skip",) * 5, k5, ("SRB_k3", "skip", "skip", "SCB_k5", "skip")]
    assert not any(tn.admissible(g) for g in genotypes)
    assert tn.refusals[k5][0].layer != "head.lifs.0"  # layer order would have blamed the body
    rule = tn.binding_rule()
    assert rule is not None
    head, count = rule
    assert (head.layer, head.kind, head.needed, head.limit) == ("head.lifs.0", "axons_per_core",
                                                               512, 256)
    assert count == len(genotypes)
    (line, n), = Counter(tn.rejected.values()).most_common(1)
    assert n == len(genotypes) and "head.lifs.0" in line and "512 input axons > 256" in line
    assert tn.rejections()["binding_rule"]["count"] == len(genotypes)
    line = tn.unmappable(len(genotypes))
    assert f"refuses {len(genotypes)} of them: layer head.lifs.0" in line
    assert "a board profile does not help" in line


def evaluations() -> list[Evaluation]:
    """Candidates of two architectures at several activities (all with the same input)."""
    return [measured(g, r) for g in (G, ("skip",) * 5) for r in (5.0, 20.0, 80.0)]


def test_a_latency_budget_below_the_floor_of_the_space_is_called_a_floor() -> None:
    from autosnn.app.chipfloor import TERMS

    free = chip()
    recs = [free.record(e) for e in evaluations()]
    low = min(r.time_per_timestep_s for r in recs if r.time_per_timestep_s is not None)
    floor = min(recs, key=lambda r: r.time_per_timestep_s or math.inf)
    term = max(floor.time_terms_s, key=lambda k: floor.time_terms_s[k])
    tight = chip(budgets=Budgets(max_latency_s=low * 0.9))
    with pytest.raises(AutosnnError) as err:
        tight.reference_cost(evaluations())
    text = str(err.value)
    assert "below the floor of the space" in text and f"{low * 1e3:.4g} ms" in text
    assert TERMS[term][0] in text
    # the remedy is priced: spread's time for the architecture on the floor is in the line
    spread = free.record(next(e for e, r in zip(evaluations(), recs, strict=True)
                              if r is floor), placement="spread").time_per_timestep_s
    assert spread is not None and spread < low
    assert f"{spread * 1e3:.4g} ms" in text
    # a budget that the cheapest meets is no floor: Cost_ref is the mean of the feasible ones
    assert math.isfinite(chip(budgets=Budgets(max_latency_s=low * 1.01)).reference_cost(
        evaluations()))


def test_an_energy_budget_below_the_floor_says_which_part_sets_it() -> None:
    recs = [chip().record(e) for e in evaluations()]
    low = min(r.energy_total_j for r in recs if r.energy_total_j is not None)
    with pytest.raises(AutosnnError, match="below the floor of the space") as err:
        chip(budgets=Budgets(max_energy_j=low / 2)).reference_cost(evaluations())
    assert f"{low * 1e6:.4g} uJ" in str(err.value)


def test_a_profile_is_normalised_and_parsed_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from autosnn.app.chipcost import check_chip
    from hwsim.chip import builtin_chip_dir

    assert ChipTarget("loihi2.yaml").chip == "loihi2"
    assert check_chip("loihi2") is check_chip("loihi2.yaml")
    path = tmp_path / "mine.yaml"
    path.write_text((builtin_chip_dir() / "loihi2.yaml").read_text())
    first = check_chip(str(path))
    assert check_chip(str(path)) is first
    path.write_text(path.read_text() + "# edited\n")
    assert check_chip(str(path)) is not first


def test_ranges_bracket_the_point_estimate_with_the_profiles_ranged_figures() -> None:
    e = measured(G, 20.0)
    ranged = chip("loihi2")  # fitted figures with ranges (chips/loihi2.yaml)
    s = ranged.summary(e)
    for point, span in (("energy_per_inference_j", "energy_per_inference_range_j"),
                        ("time_per_timestep_s", "time_per_timestep_range_s")):
        low, high = s[span]
        assert low < s[point] < high
    # a profile with no ranged figure: the bracket collapses onto the point
    flat = chip("loihi-sanafe").summary(e)
    assert flat["energy_per_inference_j"] is not None
    assert flat["energy_per_inference_range_j"] == [flat["energy_per_inference_j"]] * 2
    assert flat["time_per_timestep_range_s"] == [flat["time_per_timestep_s"]] * 2
