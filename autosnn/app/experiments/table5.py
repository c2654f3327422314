"""Table 5: the two procedures of the search, ablated.

Random sampling (k architectures trained from scratch: mean and standard deviation), weight
sharing + random search with the same budget, and weight sharing + evolutionary search (AutoSNN),
each without (lambda = 0) and with (lambda = -0.08) the spike-aware fitness; every winner is
retrained from scratch. The evolutionary searches are table2's (shared sub-run).
"""

from __future__ import annotations

import random
import statistics
from pathlib import Path

from autosnn.app.experiments.base import ExperimentContext, PaperRow, Point, acc, kspikes
from autosnn.app.experiments.registry import EXPERIMENTS, Experiment, Work
from autosnn.app.experiments.table1 import train_name
from autosnn.app.experiments.table2 import LAMBDAS, retrain_winner, searched_space
from autosnn.app.pipeline import ModelSpec
from autosnn.core.spaces import genotype_text, get_space
from autosnn.search.fitness import lambda_key

RANDOM_ARCHS = {"quick": 3, "paper": 10}
ABLATION_LAMBDAS = (0.0, -0.08)
# CIFAR-10 (paper Table 5): accuracy %, spikes; random sampling as mean (std in extra).
PAPER_TABLE5 = (
    PaperRow("Random sampling", 86.97, 123e3, {"acc_std": 1.06, "spikes_std": 29e3}),
    PaperRow("WS + random search", 88.40, 132e3),
    PaperRow("WS + random search (spike-aware)", 88.10, 133e3),
    PaperRow("WS + evolutionary search (AutoSNN)", 88.69, 127e3),
    PaperRow("WS + evolutionary search (AutoSNN, spike-aware)", 88.67, 108e3),
)
PAPER = {"Table 5": PAPER_TABLE5}


def sd(xs: list[float]) -> float:
    """Sample standard deviation (0 for one value)."""
    return statistics.stdev(xs) if len(xs) > 1 else 0.0


def random_genotypes(space: str, k: int, seed: int) -> list[str]:
    """``k`` distinct architectures drawn uniformly (seeded)."""
    spec, rng = get_space(space), random.Random(seed)
    out: list[str] = []
    while len(out) < min(k, spec.size):
        g = genotype_text(spec.sample(rng))
        if g not in out:
            out.append(g)
    return out


def run(ctx: ExperimentContext, command: str | None = None) -> Path:
    k = RANDOM_ARCHS[ctx.preset.name]
    accs, spikes = [], []
    for geno in random_genotypes("snn1", k, ctx.settings.seed):
        sub = ctx.train(train_name("snn1", geno, ctx.channels),
                        ModelSpec(space="snn1", channels=ctx.channels, genotype=geno))
        accs.append(acc(sub.result["accuracy"]))
        spikes.append(sub.result["spikes"])
    rows: list[list[object]] = [
        [f"Random sampling ({k} architectures trained)", "-",
         f"{statistics.mean(accs):.2f} +- {sd(accs):.2f}",
         f"{kspikes(statistics.mean(spikes))} +- {kspikes(sd(spikes))}",
         "86.97 +- 1.06", "123K +- 29K"]]
    ours: list[Point] = [("random sampling (mean)", statistics.mean(accs),
                          statistics.mean(spikes))]
    paper: list[Point] = [("random sampling (mean)", 86.97, 123e3)]
    _, rnd = searched_space(ctx, "snn1", ABLATION_LAMBDAS, method="random")
    _, evo = searched_space(ctx, "snn1", LAMBDAS)
    for label, search, prs in (("WS + random search", rnd, PAPER_TABLE5[1:3]),
                               ("WS + evolutionary search (AutoSNN)", evo, PAPER_TABLE5[3:5])):
        for lam, pr in zip(ABLATION_LAMBDAS, prs):
            sub = retrain_winner(ctx, search, lam)
            a, s = acc(sub.result["accuracy"]), sub.result["spikes"]
            name = f"{label}, lambda {lambda_key(lam)}"
            rows.append([name, search.result["winners"][lambda_key(lam)]["genotype"], a,
                         kspikes(s), pr.accuracy, kspikes(pr.spikes)])
            ours.append((name, a, s))
            paper.append((name, pr.accuracy, pr.spikes))
    plot = ctx.scatter("table5.png", ours, paper, "Table 5: search ablation")
    return ctx.write_report(
        title="Random sampling vs weight sharing + random / evolutionary search",
        table_no="Table 5", command=command, plot=plot,
        header=["search", "winner", "acc (%)", "spikes", "paper acc (%)", "paper spikes"],
        rows=rows,
        notes=[f"random sampling: {k} architectures (paper: 10), seed {ctx.settings.seed}",
               "random search has the evolutionary search's budget (rounds x pool)"],
    )


def work(preset: str) -> Work:
    return Work(trains=RANDOM_ARCHS[preset] + 4, supernets=1,
                search_lambdas=len(ABLATION_LAMBDAS) + len(LAMBDAS))


EXPERIMENTS.add("table5", Experiment(
    name="table5", table="Table 5",
    title="random sampling vs WS + random search vs WS + evolution, +- spike-aware fitness",
    run=run, work=work, paper=PAPER,
))
