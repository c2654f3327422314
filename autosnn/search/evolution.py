"""Evolutionary search (AutoSNN's Algorithm 1) and random search over genotypes.

Only genotypes, an evaluator and a fitness function are seen here: no networks, no data, no
chip model. The whole search state is plain data (:class:`SearchState`), advanced one round at
a time by :func:`search_round`, so a caller can checkpoint it after every round and resume to
exactly the run it would have had.

Algorithm 1 (per round): evaluate P_eval; P_top = the top-k of P_top + P_eval by fitness (only
feasible ones: an architecture scoring -inf, over a budget or not mapping, is never a parent); the
next P_eval = ``mutations`` mutants of parents drawn uniformly from P_top (each slot resampled to
a *different* candidate with probability p), ``crossovers`` children of two distinct parents
(first ``cut`` slots of one, the rest of the other, cut uniform in 1..slots-1), then random
architectures up to the pool size. An architecture already evaluated (or already in the next
pool) is never added again: each child is retried at most ``max_tries`` times, then skipped, and
the pool is filled randomly.

Every loop that draws until it finds something new is bounded, and a pool that comes out short
says why (:attr:`SearchState.note`, handed to ``run_search``'s ``on_note``): children skipped
after ``max_tries`` tries, the random fill stopped after ``max_tries`` misses per slot, every
architecture of the space drawn, or ``MAX_REJECTS_PER_SLOT`` inadmissible draws per slot. A pool
larger than the space is refused up front (:func:`check_pool`): the fill could never complete it.

An optional ``admissible`` predicate (e.g. "maps onto the target chip", a structural check much
cheaper than an evaluation) rejects architectures before they are evaluated: rejected children
count as failed tries, rejected random draws are redrawn. Without it the search is exactly the
one above (the same draws from the same seed).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from autosnn.core.config import SearchConfig
from autosnn.core.spaces import Genotype, SpaceSpec
from autosnn.search.fitness import Evaluation, Fitness

# Evaluates a batch of architectures (a batch lets the evaluator share work between them).
Evaluator = Callable[[Sequence[Genotype]], list[Evaluation]]
# Whether an architecture may be evaluated at all; deterministic (a resumed search redraws).
Admissible = Callable[[Genotype], bool]
# Random draws rejected per pool slot before the fill gives up (the admissible part of the
# space may be tiny or empty; the search then ends with what it has).
MAX_REJECTS_PER_SLOT = 200


def mutate(parent: Genotype, space: SpaceSpec, prob: float, rng: random.Random) -> Genotype:
    """Resample each slot, with probability ``prob``, to a candidate different from the parent's
    (a space of one candidate has none: the slot stays)."""
    child = list(parent)
    for i, name in enumerate(parent):
        if rng.random() < prob:
            others = [c for c in space.candidates if c != name]
            if others:
                child[i] = rng.choice(others)
    return tuple(child)


def crossover(a: Genotype, b: Genotype, rng: random.Random) -> Genotype:
    """First ``cut`` slots of ``a`` then the rest of ``b``; ``cut`` uniform in 1..len-1."""
    if len(a) < 2:
        return a
    cut = rng.randint(1, len(a) - 1)
    return tuple(a[:cut]) + tuple(b[cut:])


@dataclass
class SearchState:
    """Everything needed to continue a search after a round (plain data, JSON-able via
    :meth:`to_dict`)."""

    round: int = 0  # rounds completed
    rng_state: tuple[Any, ...] | None = None  # random.Random.getstate()
    pool: list[Genotype] = field(default_factory=list)  # P_eval of the next round
    top: list[Genotype] = field(default_factory=list)  # P_top, fittest first
    seen: list[Genotype] = field(default_factory=list)  # evaluated, in order
    rounds: list[int] = field(default_factory=list)  # round of each entry of ``seen``

    # Why this state's ``pool`` came out short of ``pool_size`` (None: it did not). Reported by
    # the caller as it happens; not saved (a resumed search redraws nothing, so has no news).
    note: str | None = field(default=None, compare=False)

    def to_dict(self) -> dict:
        if self.rng_state is None:
            raise TypeError("SearchState.rng_state is None: no generator state to save")
        version, internal, gauss = self.rng_state
        return {
            "round": self.round,
            "rng_state": [version, list(internal), gauss],
            "pool": [list(g) for g in self.pool],
            "top": [list(g) for g in self.top],
            "seen": [list(g) for g in self.seen],
            "rounds": list(self.rounds),
        }

    @staticmethod
    def from_dict(d: dict, space: SpaceSpec | None = None,
                  cfg: SearchConfig | None = None) -> SearchState:
        """The inverse of :meth:`to_dict`, for a file we read back: every field type- and
        range-checked (with ``space``: every genotype one of its architectures; with ``cfg``:
        ``round`` within its rounds), so a hand-edited state fails here, before anything is
        written, with a ValueError naming the field."""
        if not isinstance(d, dict):
            raise ValueError(f"expected an object, got {type(d).__name__}")
        max_round = cfg.rounds if cfg is not None else MAX_ROUNDS
        rnd = _int_in(d.get("round"), "round", 0, max_round)
        genos = {k: genotypes_field(d.get(k), k, space) for k in ("pool", "top", "seen")}
        rounds = d.get("rounds")
        if not isinstance(rounds, list) or len(rounds) != len(genos["seen"]):
            raise ValueError("rounds: expected one round number per entry of seen")
        return SearchState(
            round=rnd,
            rng_state=_rng_state(d.get("rng_state")),
            pool=genos["pool"], top=genos["top"], seen=genos["seen"],
            rounds=[_int_in(r, "rounds[]", 1, max(rnd, 1)) for r in rounds],
        )

    @property
    def evaluated(self) -> list[tuple[Genotype, int]]:
        return list(zip(self.seen, self.rounds, strict=False))


# Bounds of a search state read from a file (a resumed search never needs more).
MAX_ROUNDS = 100_000
_MT_WORDS = 625  # random.Random's Mersenne Twister state: 624 words + the position


def _int_in(value: object, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name}: expected an integer in [{lo}, {hi}], got {value!r}"[:200])
    return value


def genotypes_field(value: object, name: str, space: SpaceSpec | None) -> list[Genotype]:
    if not isinstance(value, list):
        raise ValueError(f"{name}: expected a list of genotypes, got {type(value).__name__}")
    out = []
    for g in value:
        if not isinstance(g, list) or not g or not all(isinstance(b, str) for b in g):
            raise ValueError(f"{name}: expected lists of block names, got {g!r}"[:200])
        if space is not None:
            if len(g) != len(space.slots):
                raise ValueError(f"{name}: {','.join(g)!r} has {len(g)} slots, the space "
                                 f"{len(space.slots)}"[:200])
            unknown = [b for b in g if b not in space.candidates]
            if unknown:
                raise ValueError(f"{name}: unknown block {unknown[0]!r}; the space's blocks are "
                                 f"{', '.join(space.candidates)}"[:200])
        out.append(tuple(g))
    return out


def _rng_state(value: object) -> tuple[Any, ...]:
    """A ``random.Random`` state as JSON holds it, checked word by word (setstate itself
    accepts words beyond 32 bits and negative ones, or raises an OverflowError)."""
    if not isinstance(value, list) or len(value) != 3:
        raise ValueError("rng_state: expected [version, words, gauss]")
    version, words, gauss = value
    _int_in(version, "rng_state.version", 3, 3)
    if not isinstance(words, list) or len(words) != _MT_WORDS:
        raise ValueError(f"rng_state: expected {_MT_WORDS} generator words")
    for w in words[:-1]:
        _int_in(w, "rng_state word", 0, 2**32 - 1)
    if not any(words[:-1]):  # Mersenne Twister's one degenerate state: every draw is 0
        raise ValueError("rng_state: all generator words are 0 (not a state random.Random makes)")
    _int_in(words[-1], "rng_state position", 0, _MT_WORDS - 1)
    if gauss is not None and not (isinstance(gauss, float) and math.isfinite(gauss)):
        raise ValueError(f"rng_state.gauss: expected null or a finite number, got {gauss!r}")
    return (version, tuple(words), gauss)


def check_pool(cfg: SearchConfig, space: SpaceSpec, name: str = "pool_size") -> None:
    """A ValueError (naming ``name``, the value and the space's size) when the evaluation pool
    is larger than the space: no architecture is evaluated twice, so such a pool can never be
    filled, and drawing for it costs the whole space's evaluations before saying anything."""
    if cfg.pool_size > space.size:
        raise ValueError(f"{name} {cfg.pool_size}: larger than the {space.size:,} distinct "
                         f"architectures of space {space.name} (none is evaluated twice); "
                         f"expected at most {space.size}")


def _random_fill(pool: list[Genotype], taken: set[Genotype], target: int, space: SpaceSpec,
                 rng: random.Random, max_tries: int,
                 admissible: Admissible | None = None) -> str | None:
    """Append random unseen (admissible) architectures to ``pool`` up to ``target``; at most
    ``max_tries`` misses and ``MAX_REJECTS_PER_SLOT`` rejections per slot. Returns why the pool
    is short, or None when it is full."""
    misses = rejected = 0
    while len(pool) < target:
        if len(taken) >= space.size:
            return (f"random fill: every one of the {space.size:,} architectures of the space "
                    f"has been drawn; the pool holds {len(pool)} of {target}")
        g = space.sample(rng)
        if g in taken:
            misses += 1
            if misses > max_tries * target:  # the space is (nearly) exhausted
                return (f"random fill stopped after {misses:,} draws of architectures already "
                        f"taken ({max_tries} per slot; {len(taken):,} of {space.size:,} taken): "
                        f"the pool holds {len(pool)} of {target}")
            continue
        taken.add(g)
        if admissible is not None and not admissible(g):
            rejected += 1
            if rejected > MAX_REJECTS_PER_SLOT * target:
                return (f"random fill stopped after {rejected:,} draws rejected before "
                        f"evaluation ({MAX_REJECTS_PER_SLOT} per slot): the pool holds "
                        f"{len(pool)} of {target}")
            continue
        pool.append(g)
    return None


def init_state(space: SpaceSpec, cfg: SearchConfig, seed: int,
               admissible: Admissible | None = None) -> SearchState:
    """Round 1's P_eval: ``pool_size`` random unique (admissible) architectures (a pool larger
    than the space is a ValueError: :func:`check_pool`)."""
    check_pool(cfg, space)
    rng = random.Random(seed)
    pool: list[Genotype] = []
    note = _random_fill(pool, set(), cfg.pool_size, space, rng, cfg.max_tries, admissible)
    return SearchState(rng_state=rng.getstate(), pool=pool, note=note)


def _next_pool(state: SearchState, space: SpaceSpec, cfg: SearchConfig, rng: random.Random,
               admissible: Admissible | None = None) -> tuple[list[Genotype], str | None]:
    """The next P_eval and why it is short of ``pool_size`` (None when it is not)."""
    taken = set(state.seen)
    pool: list[Genotype] = []
    skipped: dict[str, int] = {}

    def offer(make: Callable[[], Genotype], kind: str) -> None:
        for _ in range(cfg.max_tries):
            child = make()
            if child in taken:
                continue
            taken.add(child)
            if admissible is None or admissible(child):
                pool.append(child)
                return
        skipped[kind] = skipped.get(kind, 0) + 1

    if cfg.method == "evolution" and state.top:
        top = state.top
        for _ in range(cfg.mutations):
            offer(lambda: mutate(rng.choice(top), space, cfg.mutation_prob, rng), "mutation")
        if len(top) >= 2:
            for _ in range(cfg.crossovers):
                def cross() -> Genotype:
                    a, b = rng.sample(top, 2)
                    return crossover(a, b, rng)
                offer(cross, "crossover")
    short = _random_fill(pool, taken, cfg.pool_size, space, rng, cfg.max_tries, admissible)
    notes = [f"{n} {kind}{'s' if n > 1 else ''} skipped after {cfg.max_tries} tries each gave "
             "only architectures already evaluated (or rejected)" for kind, n in skipped.items()]
    if short:
        notes.append(short)
    return pool, "; ".join(notes) or None


def search_round(
    state: SearchState,
    space: SpaceSpec,
    cfg: SearchConfig,
    evaluate: Evaluator,
    fitness: Fitness,
    admissible: Admissible | None = None,
) -> SearchState:
    """Evaluate the pending pool, update the top-k, draw the next pool. Returns the new state."""
    rnd = state.round + 1
    results = {e.genotype: e for e in evaluate(state.pool)}
    # Stable sort: on equal fitness the earlier member (P_top first, then pool order) wins.
    # Infeasible architectures (fitness -inf: over a budget, or not mapping) never become
    # parents: bred from, they fill the next pools with their own over-budget children.
    scored = [(g, fitness(_lookup(results, g, evaluate))) for g in [*state.top, *state.pool]]
    scored.sort(key=lambda gf: -gf[1])
    new = SearchState(
        round=rnd,
        pool=[],
        top=[g for g, f in scored if f > -math.inf][: cfg.top_k],
        seen=[*state.seen, *state.pool],
        rounds=[*state.rounds, *([rnd] * len(state.pool))],
    )
    rng = random.Random()
    if state.rng_state is None:
        raise TypeError("SearchState.rng_state is None: no generator state to continue from")
    rng.setstate(state.rng_state)
    if rnd < cfg.rounds:
        new.pool, new.note = _next_pool(new, space, cfg, rng, admissible)
    new.rng_state = rng.getstate()
    return new


def _lookup(results: dict[Genotype, Evaluation], g: Genotype, evaluate: Evaluator) -> Evaluation:
    if g not in results:  # a P_top member: the caller's evaluator is expected to cache
        results[g] = evaluate([g])[0]
    return results[g]


def finished(state: SearchState, cfg: SearchConfig) -> bool:
    """Whether all rounds are done (or the space ran out of new architectures)."""
    return state.round >= cfg.rounds or (state.round > 0 and not state.pool)


def run_search(
    space: SpaceSpec,
    cfg: SearchConfig,
    evaluate: Evaluator,
    fitness: Fitness,
    *,
    seed: int,
    state: SearchState | None = None,
    on_round: Callable[[SearchState], None] | None = None,
    admissible: Admissible | None = None,
    on_note: Callable[[str], None] | None = None,
) -> SearchState:
    """Run (or continue) a search to the end; ``on_round`` sees the state after every round,
    ``on_note`` why a pool came out short (and so why the search may end early).

    ``evaluate`` should cache (P_top members are looked up again every round). A pool larger
    than the space is a ValueError before anything is drawn or evaluated (:func:`check_pool`).
    """
    check_pool(cfg, space)
    state = state or init_state(space, cfg, seed, admissible)
    if state.note and on_note:
        on_note(state.note)
    while not finished(state, cfg):
        state = search_round(state, space, cfg, evaluate, fitness, admissible)
        if on_round:
            on_round(state)
        if state.note and on_note:
            on_note(state.note)
    return state


class CachedEvaluator:
    """Memoises an evaluator: each architecture is evaluated once, whatever asks for it (several
    lambdas, P_top lookups). The cache is plain data for checkpoints."""

    def __init__(self, inner: Evaluator, cache: dict[Genotype, Evaluation] | None = None) -> None:
        self.inner = inner
        self.cache: dict[Genotype, Evaluation] = dict(cache or {})
        self.calls = 0  # architectures actually evaluated by ``inner``

    def __call__(self, genotypes: Sequence[Genotype]) -> list[Evaluation]:
        missing = sorted({g for g in genotypes if g not in self.cache})
        if missing:
            for e in self.inner(missing):
                self.cache[e.genotype] = e
            self.calls += len(missing)
        return [self.cache[g] for g in genotypes]
