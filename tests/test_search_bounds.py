"""Every draw loop of the search is bounded and says why it stopped; a pool larger than the
space is refused before anything is drawn (issue 24: ``search --pool 5000`` on a space of
3,125 architectures ran 242 s before)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from autosnn.core.config import SearchConfig
from autosnn.core.spaces import Slot, SpaceSpec
from autosnn.search.evolution import (
    CachedEvaluator,
    SearchState,
    init_state,
    run_search,
    search_round,
)
from autosnn.search.fitness import Evaluation
from tests.test_hostile_checkpoints import assert_clean_error, invoke, snapshot
from tests.test_hostile_resume import SEARCH, SUPERNET

TINY = SpaceSpec("toy", (Slot(1, 1),) * 3, candidates=("skip", "SCB_k3"))  # 2**3 = 8 archs
WIDE = SpaceSpec("wide", (Slot(1, 1),) * 8, candidates=("skip", "SCB_k3", "SCB_k5", "SRB_k3"))


def counting_evaluator(log: list) -> CachedEvaluator:
    def evaluate(genotypes):
        log.extend(genotypes)
        return [Evaluation(g, g.count("SCB_k3") / len(g), 10.0) for g in genotypes]
    return CachedEvaluator(evaluate)


def acc(e: Evaluation) -> float:
    return e.accuracy


def test_a_pool_larger_than_the_space_is_a_value_error_before_any_draw():
    log: list = []
    with pytest.raises(ValueError, match=r"pool_size 9: larger than the 8 distinct .*space toy"
                                         r".*at most 8"):
        run_search(TINY, SearchConfig(rounds=2, pool_size=9, top_k=2, mutations=1,
                                      crossovers=1), counting_evaluator(log), acc, seed=0)
    assert log == []
    with pytest.raises(ValueError, match="pool_size 9"):
        init_state(TINY, SearchConfig(pool_size=9, top_k=2, mutations=1, crossovers=1), 0)


def test_a_pool_as_large_as_the_space_evaluates_it_once_and_says_why_it_ends():
    log: list = []
    notes: list[str] = []
    cfg = SearchConfig(rounds=5, pool_size=8, top_k=2, mutations=2, crossovers=2, max_tries=5)
    state = run_search(TINY, cfg, counting_evaluator(log), acc, seed=0, on_note=notes.append)
    assert sorted(log) == sorted(set(log)) and len(log) == 8
    assert state.round == 1  # nothing new is left after round 1: the search ends there
    assert any("every one of the 8 architectures of the space has been drawn" in n
               for n in notes), notes


def test_children_that_only_repeat_are_skipped_after_max_tries_and_said():
    """mutation_prob 0: every mutant is its (evaluated) parent; each gets max_tries tries."""
    cfg = SearchConfig(rounds=3, pool_size=4, top_k=1, mutations=2, crossovers=0,
                       mutation_prob=0.0, max_tries=7)
    state = init_state(WIDE, cfg, seed=1)
    nxt = search_round(state, WIDE, cfg, counting_evaluator([]), acc)
    assert nxt.note is not None and "2 mutations skipped after 7 tries" in nxt.note, nxt.note
    assert len(nxt.pool) == 4 and not set(nxt.pool) & set(nxt.seen)  # filled randomly


def test_a_fill_whose_draws_are_all_rejected_stops_with_the_reason_quickly():
    cfg = SearchConfig(rounds=2, pool_size=5, top_k=2, mutations=1, crossovers=1)
    notes: list[str] = []
    start = time.perf_counter()
    state = run_search(WIDE, cfg, counting_evaluator([]), acc, seed=0,
                       admissible=lambda g: False, on_note=notes.append)
    assert time.perf_counter() - start < 5
    assert state.seen == [] and state.top == []  # nothing was evaluated
    assert notes and "draws rejected before evaluation" in notes[0] and "0 of 5" in notes[0]


def test_a_full_pool_has_no_note_and_the_note_is_not_saved():
    cfg = SearchConfig(rounds=2, pool_size=4, top_k=2, mutations=1, crossovers=1)
    state = init_state(WIDE, cfg, seed=0)
    assert state.note is None
    short = init_state(TINY, SearchConfig(rounds=2, pool_size=8, top_k=2, mutations=1,
                                          crossovers=1, max_tries=1), seed=0)
    assert short.note is not None and "draws of architectures already taken" in short.note
    assert "note" not in short.to_dict()
    assert SearchState.from_dict(short.to_dict()).note is None


def test_a_one_candidate_space_mutates_without_an_index_error():
    space = SpaceSpec("one", (Slot(1, 1),) * 2, candidates=("skip",))
    cfg = SearchConfig(rounds=3, pool_size=1, top_k=1, mutations=1, crossovers=0,
                       mutation_prob=1.0)
    notes: list[str] = []
    state = run_search(space, cfg, counting_evaluator([]), acc, seed=0, on_note=notes.append)
    assert state.seen == [("skip", "skip")] and notes


@pytest.fixture(scope="module")
def supernet(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("supernet")
    result = invoke(*SUPERNET, "--out", out)
    assert result.exit_code == 0, result.output
    return out / "supernet.pt"


def test_search_pool_beyond_the_space_is_one_line_exit_2_naming_pool(supernet, tmp_path):
    args = list(SEARCH)
    args[args.index("--pool") + 1] = "5000"
    start = time.perf_counter()
    result = invoke(*args, "--supernet", supernet, "--out", tmp_path / "out")
    assert time.perf_counter() - start < 5
    assert_clean_error(result, "--pool 5000")
    assert "3,125 distinct architectures" in result.output and "at most 3125" in result.output
    assert set(snapshot(tmp_path)) <= {"out/.autosnn.lock"}  # nothing written
