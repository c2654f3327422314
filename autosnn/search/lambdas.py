"""Searches for several lambdas over one super-network, checkpointed after every round.

Evaluations are cached per architecture (accuracy and spikes do not depend on lambda), so a
second lambda re-uses every architecture the first one evaluated; only the fitness is
recomputed. The checkpoint (``search-state.json``) holds the cache in evaluation order and each
lambda's :class:`~autosnn.search.evolution.SearchState`; it is written atomically after each round,
with a ``sha256`` field over the canonical JSON of the rest
(:func:`~autosnn.core.checkpoint.seal_state`), so a resume refuses a file changed since.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from autosnn.core.checkpoint import check_state, seal_state
from autosnn.core.config import SearchConfig
from autosnn.core.errors import CheckpointError
from autosnn.core.progress import Reporter
from autosnn.core.spaces import SpaceSpec, genotype_text
from autosnn.search.evolution import (
    Admissible,
    CachedEvaluator,
    SearchState,
    genotypes_field,
    run_search,
)
from autosnn.search.fitness import Evaluation, Fitness, lambda_key
from autosnn.train.distributed import broadcast_from_main, is_main
from safeio import write_json

STATE_FILE = "search-state.json"


@dataclass
class MultiSearch:
    """Result of :func:`search_lambdas`: the final state per lambda and every evaluation in
    first-evaluated order, with per-lambda timings."""

    states: dict[str, SearchState]
    evaluations: list[Evaluation]
    seconds: dict[str, float] = field(default_factory=dict)
    evaluated_now: int = 0  # architectures evaluated by this process (the rest came from a resume)


def _save(path: Path, fingerprint: str, cache: CachedEvaluator,
          states: dict[str, SearchState]) -> None:
    write_json(path, seal_state({
        "fingerprint": fingerprint,
        "cache": [[genotype_text(g), e.accuracy, e.spikes, e.activity]
                  for g, e in cache.cache.items()],
        "states": {k: s.to_dict() for k, s in states.items()},
    }))


def _load(path: Path, fingerprint: str, space: SpaceSpec, cfg: SearchConfig,
          keys: set[str]) -> tuple[dict, dict[str, SearchState]]:
    """Read a search checkpoint; a damaged or hand-edited file is one line naming the file.
    Its ``sha256`` is verified first (a file without one, from an autosnn before state
    checksums, is refused with how to proceed: :func:`~autosnn.core.checkpoint.check_state`);
    then, behind the digest, everything is checked (genotypes against ``space``, rounds
    against ``cfg``, only the lambdas ``keys`` of this search) before the search resumes, so nothing is written from a
    state that would fail later."""
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: bad JSON or UTF-8
        raise CheckpointError(f"{path}: unreadable search checkpoint ({str(exc)[:120]}); rerun "
                              "without --resume") from None
    d = check_state(path, d)  # a JSON object, undamaged
    if d.get("fingerprint") != fingerprint:
        raise CheckpointError(
            f"{path}: written by a search with other settings; rerun without --resume or with "
            "the same options"
        )
    try:
        if not isinstance(d["cache"], list) or not isinstance(d["states"], dict):
            raise TypeError("cache must be a list and states an object")
        cache = {}
        for text, acc, spikes, act in d["cache"]:
            if not isinstance(text, str):
                raise TypeError(f"cache genotype {text!r} is not a text"[:120])
            g = genotypes_field([text.split(",")], "cache", space)[0]
            acc, spikes = float(acc), float(spikes)
            if not (math.isfinite(acc) and 0.0 <= acc <= 1.0 and math.isfinite(spikes)
                    and spikes >= 0.0):
                raise ValueError(f"accuracy {acc} / spikes {spikes} of {text} out of range")
            activity = None if act is None else {k: tuple(map(float, v)) for k, v in act.items()}
            if activity and not all(math.isfinite(x) and x >= 0 for v in activity.values()
                                    for x in v):
                raise ValueError(f"activity of {text} holds a negative or non-finite count")
            cache[g] = Evaluation(g, acc, spikes, activity)
        extra = sorted(set(d["states"]) - keys)
        if extra:
            raise ValueError(f"states for lambdas this search does not run: {extra}")
        states = {k: SearchState.from_dict(v, space, cfg) for k, v in d["states"].items()}
        seen: set = set()
        for k, s in states.items():
            named = {*s.top, *s.seen}  # the pool may hold the next, unevaluated round
            if not named <= set(cache) or len(s.seen) != len(s.rounds):
                raise ValueError(f"state {k} names architectures the cache does not hold")
            if s.rng_state is None:
                raise TypeError(f"state {k}: rng_state is null")
            random.Random().setstate(s.rng_state)  # a malformed generator state fails here
            seen |= set(s.seen)
        if not set(cache) <= seen:
            raise ValueError("the cache holds architectures no search state evaluated")
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise CheckpointError(
            f"{path}: field cache/states: malformed search checkpoint ({type(exc).__name__}: "
            f"{str(exc)[:120]}); rerun without --resume"
        ) from None
    return cache, states


def search_lambdas(
    space: SpaceSpec,
    evaluate: Callable,
    fitness_for: Callable[[float], Fitness],
    lambdas: tuple[float, ...],
    cfg: SearchConfig,
    *,
    seed: int,
    state_path: Path,
    resume: bool = False,
    fingerprint: str = "",
    reporter: Reporter | None = None,
    admissible: Admissible | None = None,
) -> MultiSearch:
    """Run one search per lambda (each seeded with ``seed``), sharing one evaluation cache.

    ``admissible`` rejects architectures before evaluation (see :mod:`autosnn.search.evolution`).
    """
    cache = CachedEvaluator(evaluate)
    states: dict[str, SearchState] = {}
    if resume and state_path.is_file():
        keys = {lambda_key(lam) for lam in lambdas}
        cache.cache, states = broadcast_from_main(
            lambda: _load(state_path, fingerprint, space, cfg, keys))
        if reporter:
            done = {k: s.round for k, s in states.items()}
            reporter.log(f"resumed search from {state_path} (rounds done: {done})")
    seconds: dict[str, float] = {}
    for lam in lambdas:
        key = lambda_key(lam)
        fitness = fitness_for(lam)
        start = time.perf_counter()
        task = reporter.start(f"search lambda={key}", cfg.rounds) if reporter else None
        progress = {"calls": cache.calls, "t0": time.perf_counter()}

        def on_round(state: SearchState, key: str = key, fitness: Fitness = fitness,
                     task: int | None = task, progress: dict = progress) -> None:
            states[key] = state
            if is_main():  # one writer; every rank holds the same state
                _save(state_path, fingerprint, cache, states)
            if reporter and state.top:
                best = cache.cache[state.top[0]]
                reporter.advance(task, acc=best.accuracy, spikes=best.spikes)
                reporter.log(
                    f"lambda={key} round {state.round}/{cfg.rounds}: "
                    f"{cache.calls - progress['calls']} new evaluations "
                    f"({time.perf_counter() - progress['t0']:.1f} s); best "
                    f"{genotype_text(state.top[0])} acc {100 * best.accuracy:.2f}% "
                    f"spikes {best.spikes:,.0f} F {fitness(best):.4f}"
                )
            progress.update(calls=cache.calls, t0=time.perf_counter())

        def on_note(note: str, key: str = key) -> None:  # why a pool came out short
            if reporter:
                reporter.log(f"lambda={key}: {note}")

        states[key] = run_search(space, cfg, cache, fitness, seed=seed, state=states.get(key),
                                 on_round=on_round, admissible=admissible, on_note=on_note)
        if reporter:
            reporter.finish(task)
        seconds[key] = time.perf_counter() - start
    return MultiSearch(states, list(cache.cache.values()), seconds, cache.calls)
