"""The chip-cost adapter (measured activity -> hwsim cost, budgets) and choosing lambda per chip."""

from __future__ import annotations

import math

import pytest

from autosnn.app.chipcost import Budgets, ChipCost, ChipTarget, chip_path
from autosnn.core.build import build
from autosnn.core.errors import AutosnnError
from autosnn.core.spaces import get_space
from autosnn.search.fitness import Evaluation, make_fitness
from autosnn.search.select import SweepPoint, choose_lambda, knee

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


def test_auto_lambda_with_budgets_picks_best_accuracy_within_them() -> None:
    pts = [p if p.cost <= 6.0 else SweepPoint(p.key, p.lam, p.accuracy, p.cost, "energy > 6")
           for p in SWEEP]
    chosen, why = choose_lambda(pts, budgets=True)
    assert chosen.key == "-0.08"  # 0 is more accurate but over budget
    assert "within the budgets" in why


def test_auto_lambda_without_budgets_picks_the_knee() -> None:
    assert knee(SWEEP).key == "-0.16"  # big cost drop for 2 points of accuracy; then a cliff
    chosen, why = choose_lambda(SWEEP, budgets=False)
    assert chosen.key == "-0.16" and "knee" in why
    # a straight trade-off has no knee: the most accurate wins
    line = [SweepPoint(str(i), -i / 10, 0.5 + i / 10, 1.0 + i) for i in range(4)]
    assert knee(line).key == "3"


def test_no_feasible_lambda_is_one_clear_error() -> None:
    pts = [SweepPoint(p.key, p.lam, p.accuracy, p.cost, "cores 300 > --max-cores 128")
           for p in SWEEP]
    with pytest.raises(AutosnnError, match="max-cores"):
        choose_lambda(pts, budgets=True)
