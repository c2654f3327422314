"""Finalists judged with their uncertainty: Wilson and paired intervals, and the one rule that
chooses among finalists (toy per-image outcomes; no network)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from typer.testing import CliRunner

from autosnn.app.cli import app
from autosnn.core.errors import AutosnnError
from autosnn.core.stats import Z95, paired_difference, wilson
from autosnn.search.finalists import Finalist, choose_finalist, knee_if_defined, top_per_lambda
from autosnn.search.fitness import check_lambda, make_fitness


def outcomes(n: int, right: int, *, like: np.ndarray | None = None, shared: int | None = None,
             seed: int = 0) -> np.ndarray:
    """``n`` per-image outcomes with ``right`` correct; with ``like``, ``shared`` of them (as
    many as possible by default) on the images ``like`` gets right, the rest on its misses."""
    out = np.zeros(n, dtype=bool)
    if like is None:
        out[np.random.default_rng(seed).permutation(n)[:right]] = True
        return out
    hits, misses = np.flatnonzero(like), np.flatnonzero(~like)
    k = min(right, hits.size) if shared is None else shared
    out[hits[:k]] = True
    out[misses[: right - k]] = True
    assert out.sum() == right
    return out


def fin(name: str, correct: np.ndarray, cost: float, binding: str | None = None,
        lam: float = 0.0) -> Finalist:
    return Finalist((name,), lam, correct, cost, binding)


# -- intervals --------------------------------------------------------------------------------
def test_wilson_matches_its_closed_form_at_the_ends_and_is_symmetric_at_one_half() -> None:
    z2 = Z95 * Z95
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(z2 / (10 + z2))  # 0.2775
    lo, hi = wilson(10, 10)
    assert lo == pytest.approx(10 / (10 + z2)) and hi == pytest.approx(1.0)
    lo, hi = wilson(200, 400)
    assert 0.5 - lo == pytest.approx(hi - 0.5) and hi - lo == pytest.approx(0.0975, abs=1e-3)
    with pytest.raises(ValueError):
        wilson(5, 0)


def test_paired_interval_covers_the_true_difference_and_beats_unpaired_ones() -> None:
    # 400 images, two networks that agree on most of them: A right with p 0.70, B with 0.68
    rng = np.random.default_rng(0)
    n, trials, covered, widths, unpaired = 400, 400, 0, [], []
    for _ in range(trials):
        u = rng.random(n)
        a, b = u < 0.70, (u < 0.66) | ((u >= 0.70) & (u < 0.72))  # true diff +0.02
        d = paired_difference(a, b)
        covered += d.low <= 0.02 <= d.high
        widths.append(d.high - d.low)
        (la, ha), (lb, hb) = wilson(int(a.sum()), n), wilson(int(b.sum()), n)
        unpaired.append((ha - lb) - (la - hb))
    assert 0.93 <= covered / trials <= 0.995
    assert np.mean(widths) < 0.5 * np.mean(unpaired)  # same images: far less noise
    a = outcomes(1000, 700)
    d = paired_difference(a, outcomes(1000, 600, like=a))  # B's hits are a subset of A's
    assert d.diff == pytest.approx(0.1) and d.significant and d.low > 0.07
    assert (d.a_only, d.b_only) == (100, 0)
    with pytest.raises(ValueError):
        paired_difference(a, a[:10])


# -- the rule ---------------------------------------------------------------------------------
def test_a_cheaper_finalist_within_the_noise_is_chosen() -> None:
    # the case: 400 images, 62.50 % vs 61.25 % on the same images, 38 % less energy;
    # the two disagree on 55 images (30 only the accurate one gets right, 25 only the cheap one)
    best = outcomes(400, 250)
    cheap = outcomes(400, 245, like=best, shared=220)
    d = choose_finalist([fin("accurate", best, 123e-6), fin("cheap", cheap, 77e-6, lam=-0.16)])
    assert d.chosen.genotype == ("cheap",) and d.best.genotype == ("accurate",)
    assert d.versus_best[("cheap",)].high >= 0 and "-1.25 pp" in d.reason


def test_a_significantly_worse_cheap_finalist_is_passed_over_for_the_next_cheapest() -> None:
    best = outcomes(2000, 1400)
    worse = outcomes(2000, 1200, like=best)  # 10 pp below, on the same images
    close = outcomes(2000, 1395, like=best, shared=1350)
    over = outcomes(2000, 1410, like=best)  # most accurate, but over budget
    d = choose_finalist([fin("best", best, 10.0), fin("worse", worse, 1.0),
                         fin("close", close, 5.0), fin("over", over, 0.5, "cores 300 > 128")])
    assert d.best.genotype == ("best",)  # "over" is infeasible: never the reference either
    assert d.chosen.genotype == ("close",)
    assert d.versus_best[("worse",)].high < 0


def test_max_acc_drop_replaces_the_test_and_ties_in_cost_go_to_the_more_accurate() -> None:
    best = outcomes(100, 80)
    a = outcomes(100, 79, like=best)  # 1 pp below
    b = outcomes(100, 78, like=best)  # 2 pp below: not significant on 100 images ...
    pts = [fin("best", best, 9.0), fin("a", a, 3.0), fin("b", b, 2.0), fin("a2", a, 3.0)]
    assert choose_finalist(pts).chosen.genotype == ("b",)
    d = choose_finalist(pts, max_acc_drop=1.5)  # ... but more than 1.5 pp
    assert d.chosen.genotype in {("a",), ("a2",)} and "1.5 pp" in d.reason
    tie = choose_finalist([fin("lo", b, 2.0), fin("hi", a, 2.0), fin("best", best, 9.0)])
    assert tie.chosen.genotype == ("hi",)
    with pytest.raises(AutosnnError, match="max-acc-drop"):
        choose_finalist(pts, max_acc_drop=-1)


def test_nothing_feasible_is_one_error_naming_the_constraint() -> None:
    a = outcomes(50, 30)
    with pytest.raises(AutosnnError, match="max-cores"):
        choose_finalist([fin("x", a, math.inf, "cores 300 > --max-cores 128")])


def test_the_knee_is_reported_only_where_it_is_defined() -> None:
    n = 1000
    acc_cost = [("a", 900, 10.0), ("b", 890, 6.0), ("c", 880, 3.0), ("d", 700, 2.5)]
    pts = [fin(g, outcomes(n, k), c) for g, k, c in acc_cost]
    assert knee_if_defined(pts) == ("c",)  # big cost drop for 2 points, then a cliff
    assert knee_if_defined(pts[:2]) is None  # two points: no knee
    line = [fin(str(i), outcomes(n, 500 + 100 * i), 1.0 + i) for i in range(4)]
    assert knee_if_defined(line) is None  # a straight trade-off has none


def test_top_per_lambda_deduplicates_and_keeps_each_lambdas_rank() -> None:
    tops = {"0": [("x",), ("y",), ("z",)], "-0.08": [("y",), ("w",), ("x",)]}
    got = top_per_lambda(tops, 2)
    assert got == {("x",): {"0": 1}, ("y",): {"0": 2, "-0.08": 1}, ("w",): {"-0.08": 2}}
    with pytest.raises(AutosnnError):
        top_per_lambda(tops, 0)


# -- --lambda: one rule for the CLI and the library --------------------------------------------
@pytest.mark.parametrize("value", [0.1, -10.5, float("nan"), float("-inf")])
def test_lambda_out_of_range_is_refused_alike_by_the_library_and_the_cli(value: float) -> None:
    with pytest.raises(AutosnnError, match=r"-10 <= lambda <= 0"):
        check_lambda(value)
    with pytest.raises(AutosnnError, match=r"-10 <= lambda <= 0"):
        make_fitness("power", value, 1.0)
    result = CliRunner().invoke(app, ["search", "--out", "/nonexistent/x", "--lambda",
                                      str(value), "-q"])
    assert result.exit_code == 2 and "-10 <= lambda <= 0" in result.output
    assert check_lambda(-10.0) == -10.0 and check_lambda(0.0) == 0.0
