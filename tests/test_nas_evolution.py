"""Algorithm 1 on a toy fitness: mutation, crossover, duplicate and pool rules, resume."""

from __future__ import annotations

import json
import random

import pytest

from autosnn.core.config import SearchConfig
from autosnn.core.errors import AutosnnError
from autosnn.core.spaces import Slot, SpaceSpec, get_space
from autosnn.search.evolution import (
    CachedEvaluator,
    SearchState,
    crossover,
    init_state,
    mutate,
    run_search,
    search_round,
)
from autosnn.search.fitness import (
    Evaluation,
    lambda_key,
    linear_fitness,
    make_fitness,
    power_fitness,
)

CANDS = ("skip", "SCB_k3", "SCB_k5", "SRB_k3", "SRB_k5")
SPACE = get_space("snn1").with_candidates(CANDS)  # 5 slots
TARGET = ("SRB_k5", "SRB_k5", "skip", "SRB_k3", "SRB_k5")


def toy_evaluator(log: list):
    """Accuracy = fraction of slots equal to TARGET; spikes = index sum; logs every call."""

    def evaluate(genotypes):
        log.extend(genotypes)
        out = []
        for g in genotypes:
            acc = sum(a == b for a, b in zip(g, TARGET, strict=False)) / len(g)
            out.append(Evaluation(tuple(g), acc, 100.0 + sum(CANDS.index(x) for x in g)))
        return out

    return evaluate


def acc_only(e: Evaluation) -> float:
    return e.accuracy


def test_mutation_changes_each_slot_to_a_different_candidate():
    rng = random.Random(0)
    parent = TARGET
    for _ in range(200):
        child = mutate(parent, SPACE, 1.0, rng)
        assert all(c != p for c, p in zip(child, parent, strict=True))
        assert all(c in CANDS for c in child)
    assert mutate(parent, SPACE, 0.0, rng) == parent


def test_mutation_rate_matches_probability():
    rng = random.Random(1)
    changed = sum(
        c != p
        for _ in range(2000)
        for c, p in zip(mutate(TARGET, SPACE, 0.2, rng), TARGET, strict=True)
    )
    assert 0.17 < changed / (2000 * 5) < 0.23


def test_crossover_takes_a_prefix_of_one_parent_and_the_rest_of_the_other():
    rng = random.Random(2)
    a, b = ("skip",) * 5, ("SRB_k5",) * 5
    cuts = set()
    for _ in range(300):
        child = crossover(a, b, rng)
        cut = child.index("SRB_k5")
        assert child[:cut] == a[:cut] and child[cut:] == b[cut:]
        cuts.add(cut)
    assert cuts == {1, 2, 3, 4}


def test_search_never_evaluates_an_architecture_twice_and_fills_each_pool():
    log: list = []
    cfg = SearchConfig(rounds=10)
    state = run_search(SPACE, cfg, toy_evaluator(log), acc_only, seed=0)
    # The raw evaluator (no cache) is asked for each new pool plus P_top lookups; the search's
    # own record must be unique and exactly 20 per round.
    assert len(state.seen) == 200 == len(set(state.seen))
    assert state.rounds == [r for r in range(1, 11) for _ in range(20)]


def test_cached_evaluator_evaluates_each_architecture_once():
    log: list = []
    cache = CachedEvaluator(toy_evaluator(log))
    state = run_search(SPACE, SearchConfig(rounds=5), cache, acc_only, seed=3)
    assert len(log) == len(set(log)) == len(state.seen) == 100


def test_round_structure_mutations_crossovers_then_random_fill():
    cfg = SearchConfig(rounds=3, mutations=10, crossovers=10)
    cache = CachedEvaluator(toy_evaluator([]))
    s1 = search_round(init_state(SPACE, cfg, 5), SPACE, cfg, cache, acc_only)
    assert len(s1.top) == 10
    fits = [acc_only(cache([g])[0]) for g in s1.top]
    assert fits == sorted(fits, reverse=True)
    assert len(s1.pool) == 20 and not set(s1.pool) & set(s1.seen)
    # first 10: one-parent mutants (differ from some top member), next 10: crossovers
    for child in s1.pool[:10]:
        assert min(sum(a != b for a, b in zip(child, p, strict=True)) for p in s1.top) >= 1
    for child in s1.pool[10:20]:
        assert any(
            child[:k] == a[:k] and child[k:] == b[k:]
            for a in s1.top for b in s1.top if a != b for k in range(1, 5)
        )


def test_evolution_beats_random_search_on_toy_fitness():
    wins = 0
    for seed in range(5):
        ev = CachedEvaluator(toy_evaluator([]))
        evo = run_search(SPACE, SearchConfig(rounds=10), ev, acc_only, seed=seed)
        rnd_ev = CachedEvaluator(toy_evaluator([]))
        rnd = run_search(SPACE, SearchConfig(rounds=10, method="random"), rnd_ev, acc_only,
                         seed=seed)
        assert len(rnd.seen) == len(evo.seen) == 200  # same budget
        best_evo = ev([evo.top[0]])[0].accuracy
        best_rnd = rnd_ev([rnd.top[0]])[0].accuracy
        wins += best_evo >= best_rnd
        if seed == 0:
            assert best_evo == 1.0  # finds the target
    assert wins == 5


def test_small_space_is_exhausted_without_duplicates():
    space = SpaceSpec("toy", (Slot(1, 1),) * 3, candidates=("skip", "SCB_k3"))  # 8 archs
    cfg = SearchConfig(rounds=5, pool_size=5, top_k=2, mutations=2, crossovers=2, max_tries=5)
    state = run_search(space, cfg, CachedEvaluator(toy_evaluator([])), acc_only, seed=0)
    assert sorted(set(state.seen)) == sorted(state.seen)
    assert len(state.seen) == 8


def test_state_round_trips_through_json_and_resumes_identically():
    cfg = SearchConfig(rounds=6)
    full = run_search(SPACE, cfg, CachedEvaluator(toy_evaluator([])), acc_only, seed=7)
    states: list[SearchState] = []

    class Killed(Exception):
        pass

    def on_round(state: SearchState) -> None:
        states.append(state)
        if state.round == 3:
            raise Killed

    with pytest.raises(Killed):
        run_search(SPACE, cfg, CachedEvaluator(toy_evaluator([])), acc_only, seed=7,
                   on_round=on_round)
    saved = json.loads(json.dumps(states[-1].to_dict()))
    resumed = run_search(SPACE, cfg, CachedEvaluator(toy_evaluator([])), acc_only, seed=7,
                         state=SearchState.from_dict(saved))
    assert resumed.seen == full.seen and resumed.top == full.top


def test_power_fitness_is_eq3_and_linear_its_first_order():
    e = Evaluation(TARGET, 0.9, 50.0)
    assert power_fitness(-0.24, 100.0)(e) == pytest.approx(0.9 * 0.5**-0.24)
    assert linear_fitness(-0.24, 100.0)(e) == pytest.approx(0.9 * (1 - 0.24 * (0.5 - 1)))
    assert power_fitness(0.0, 100.0)(e) == 0.9
    assert make_fitness("linear", -0.1, 10.0)(e) == linear_fitness(-0.1, 10.0)(e)
    # fewer spikes win under a negative lambda at equal accuracy
    f = power_fitness(-0.24, 100.0)
    assert f(Evaluation(TARGET, 0.9, 40.0)) > f(Evaluation(TARGET, 0.9, 60.0))


def test_fitness_rejects_positive_lambda_and_missing_spikes_avg():
    with pytest.raises(AutosnnError, match="<= 0"):
        power_fitness(0.1, 100.0)
    with pytest.raises(AutosnnError, match="reference cost > 0"):
        power_fitness(-0.1, 0.0)
    with pytest.raises(AutosnnError, match="finite"):
        power_fitness(float("nan"), 1.0)
    with pytest.raises(AutosnnError, match="expected one of"):
        make_fitness("cubic", -0.1, 1.0)
    assert lambda_key(-0.24) == "-0.24" and lambda_key(0.0) == "0"


def test_config_validation():
    with pytest.raises(AutosnnError, match="exceed"):
        SearchConfig(pool_size=10, mutations=10, crossovers=10)
    with pytest.raises(AutosnnError, match="method"):
        SearchConfig(method="grid")


def test_pareto_front_keeps_only_non_dominated_points():
    from autosnn.search.outputs import pareto_front

    pts = [{"spikes": s, "accuracy": a} for s, a in [(10, 0.5), (20, 0.4), (30, 0.7), (5, 0.1),
                                                      (30, 0.6), (40, 0.7)]]
    front = pareto_front(pts)
    assert [(p["spikes"], p["accuracy"]) for p in front] == [(5, 0.1), (10, 0.5), (30, 0.7)]


def no_k5_in_the_last_two_slots(g) -> bool:
    """A structural rule like TrueNorth's 256 axons: wide 5x5 blocks late in the network fail."""
    return not any(x.endswith("k5") for x in g[3:])


def test_inadmissible_architectures_are_never_evaluated_and_pools_stay_full():
    log: list = []
    cache = CachedEvaluator(toy_evaluator(log))
    state = run_search(SPACE, SearchConfig(rounds=6), cache, acc_only, seed=0,
                       admissible=no_k5_in_the_last_two_slots)
    assert log and all(no_k5_in_the_last_two_slots(g) for g in log)
    assert state.rounds == [r for r in range(1, 7) for _ in range(20)]  # 20 per round
    # the best admissible architecture (TARGET with its last slot replaced) is found
    assert cache.cache[state.top[0]].accuracy == pytest.approx(0.8)


def test_a_predicate_nothing_passes_ends_the_search_without_evaluations():
    log: list = []
    state = run_search(SPACE, SearchConfig(rounds=3), CachedEvaluator(toy_evaluator(log)),
                       acc_only, seed=0, admissible=lambda g: False)
    assert log == [] and state.seen == [] and state.pool == []


def _budgeted(limit: float):
    """Accuracy, but -inf (infeasible) above ``limit`` spikes: the toy's most accurate
    architectures (the TARGET, 115 spikes) are all over the budget."""

    def f(e: Evaluation) -> float:
        return e.accuracy if e.spikes <= limit else float("-inf")

    return f


@pytest.mark.parametrize("seed", range(4))
def test_over_budget_architectures_never_become_parents(seed):
    ev = CachedEvaluator(toy_evaluator([]))
    fit = _budgeted(106.0)
    cfg = SearchConfig(rounds=6)
    state = init_state(SPACE, cfg, seed)
    while state.round < cfg.rounds:
        state = search_round(state, SPACE, cfg, ev, fit)
        assert all(fit(ev([g])[0]) > float("-inf") for g in state.top)


@pytest.mark.parametrize("seed", range(4))
def test_a_budgeted_search_is_as_accurate_as_the_best_feasible_unbudgeted_candidate(seed):
    limit = 106.0
    free_ev = CachedEvaluator(toy_evaluator([]))
    free = run_search(SPACE, SearchConfig(rounds=6), free_ev, acc_only, seed=seed)
    feasible = [free_ev([g])[0].accuracy for g in free.seen if free_ev([g])[0].spikes <= limit]
    ev = CachedEvaluator(toy_evaluator([]))
    budgeted = run_search(SPACE, SearchConfig(rounds=6), ev, _budgeted(limit), seed=seed)
    winner = ev([budgeted.top[0]])[0]
    assert winner.spikes <= limit
    assert winner.accuracy >= max(feasible)
