"""The finalist step of a chip search: after the evolutionary rounds (which may rank candidates
on a subset of D_val), the top candidates of every lambda are re-measured on the whole D_val,
each image's outcome kept, and :func:`autosnn.search.finalists.choose_finalist` picks the one to
deploy. Ranking 400 images decides little: near 62 % their standard error is 2.4 pp, more than
the gap between most lambdas' winners.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from autosnn.app.outcome import (
    Arch,
    ChipFigures,
    Choice,
    FinalistRecord,
    Finalists,
    SearchOutcome,
    Winner,
    finite,
)
from autosnn.core.errors import AutosnnError
from autosnn.core.progress import Reporter
from autosnn.core.spaces import Genotype
from autosnn.core.stats import wilson
from autosnn.data.spec import load_data
from autosnn.search.evaluate import eval_batches
from autosnn.search.finalists import Decision, Finalist, choose_finalist, top_per_lambda
from autosnn.search.fitness import Evaluation, FitnessSpec
from autosnn.search.lambdas import MultiSearch
from autosnn.search.shared_eval import SharedPrefixEvaluator
from autosnn.train import distributed

if TYPE_CHECKING:  # the search steps import this module
    from autosnn.app.nas_search import ChipSetup, SearchRequest, Setup

# The rule in one line (README, report.md, search.json).
RULE = ("among the finalists within every budget, the cheapest on the chip whose whole-D_val "
        "accuracy is not significantly below the most accurate one's (95 % paired interval "
        "of the difference reaches 0, or at most --max-acc-drop pp below it); ties in cost go "
        "to the more accurate")


def measure(setup: Setup, request: SearchRequest, genotypes: list[Genotype]
            ) -> list[tuple[Evaluation, np.ndarray]]:
    """``genotypes`` on the whole D_val (or ``request.finalist_limit`` images of it), with
    per-image correctness; under torchrun rank 0 measures and every rank receives the result."""
    data = replace(setup.data, val_limit=request.finalist_limit)
    net = setup.net

    def work() -> list[tuple[Evaluation, np.ndarray]]:
        batches = eval_batches(load_data(data).val, request.eval_batch_size, setup.device)
        return SharedPrefixEvaluator(net, batches, request.precision).per_image(genotypes)

    return distributed.broadcast_from_main(work)


def judge(setup: Setup, request: SearchRequest, result: MultiSearch, outcome: SearchOutcome,
          spec: FitnessSpec, chip: ChipSetup, reporter: Reporter) -> SearchOutcome:
    """``outcome`` with its finalists measured and its choice made (chip searches)."""
    ranks = top_per_lambda({k: s.top for k, s in result.states.items()}, request.finalists)
    lam_of = {w.key: w.lam for w in outcome.winners.values()}
    by_geno = {e.genotype: e for e in result.evaluations}
    genotypes = list(ranks)
    reporter.log(f"finalists: {len(genotypes)} distinct of the top {request.finalists} per "
                 "lambda, re-measured on the whole D_val")
    measured = measure(setup, request, genotypes)
    finalists = []
    for g, (e, correct) in zip(genotypes, measured, strict=True):
        # the lambda that ranked it best (ties: the lambda closer to 0)
        key = min(ranks[g], key=lambda k: (ranks[g][k], -lam_of[k]))
        finalists.append(Finalist(g, lam_of[key], correct, chip.model.cost(e),
                                  chip.model.binding(e)))
    try:
        decision = choose_finalist(finalists, max_acc_drop=request.max_acc_drop)
        chosen, reason = decision.chosen, decision.reason
    except AutosnnError:
        if request.lambda_auto or len(outcome.winners) == 1:
            raise
        decision, chosen, reason = None, finalists[0], "infeasible"  # explicit: keep the files
    if not request.lambda_auto and len(outcome.winners) > 1:
        reason = "lambdas given explicitly; " + reason
    records = [_record(f, ranks[f.genotype], by_geno[f.genotype], e, decision, chip)
               for f, (e, _) in zip(finalists, measured, strict=True)]
    n = records[0].samples
    reporter.log(f"finalists measured on {n} D_val images; chosen {','.join(chosen.genotype)}: "
                 f"{reason}")
    key = min(ranks[chosen.genotype], key=lambda k: (ranks[chosen.genotype][k], -lam_of[k]))
    full = dict(zip(genotypes, (e for e, _ in measured), strict=True))
    return replace(
        outcome,
        chosen=Choice(chosen.lam, key, reason, chosen.genotype),
        finalists=Finalists(
            request.finalists, n, len(setup.splits.val), request.max_acc_drop, RULE, records,
            decision.best.genotype if decision else chosen.genotype, chosen.genotype,
            decision.knee if decision else None),
        deploy=_deployed(chosen, key, full[chosen.genotype], spec, outcome.arch, chip),
    )


def _record(f: Finalist, ranks: dict[str, int], search: Evaluation, full: Evaluation,
            decision: Decision | None, chip: ChipSetup) -> FinalistRecord:
    n = int(f.correct.size)
    versus = decision.versus_best.get(f.genotype) if decision else None
    return FinalistRecord(f.genotype, ranks, search, full, n,
                          wilson(int(f.correct.sum()), n), versus,
                          ChipFigures(finite(f.cost), chip.model.summary(full)))


def _deployed(f: Finalist, key: str, e: Evaluation, spec: FitnessSpec, arch: Arch,
              chip: ChipSetup) -> Winner:
    """The chosen finalist as ``winner.json`` / ``winner.pt`` (whole-D_val figures)."""
    return Winner(key, f.lam, e, finite(spec.at(f.lam)(e)), arch,
                  ChipFigures(finite(f.cost), chip.model.summary(e)), file="winner.pt")
