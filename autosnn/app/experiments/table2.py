"""Table 2: the lambda sweep of the spike-aware fitness (Eq. 3) on the SNN_1 search space.

One super-network, one evolutionary search per lambda (sharing one evaluation cache), each winner
retrained from scratch on the whole training set and tested. The paper's finding: a more negative
lambda gives fewer spikes at a small accuracy cost (Sec. 5.2).
"""

from __future__ import annotations

from pathlib import Path

from autosnn.app.experiments.base import ExperimentContext, PaperRow, SubRun, acc, kspikes
from autosnn.app.experiments.registry import EXPERIMENTS, Experiment, Work
from autosnn.app.experiments.table1 import train_name
from autosnn.core.spaces import GENOTYPES
from autosnn.search.fitness import lambda_key

LAMBDAS = (0.0, -0.08, -0.16, -0.24)
# CIFAR-10, C = 16, T = 8 (paper Table 2), searched architectures in Figure 11.
def _paper_genotype(lam: str) -> dict[str, str]:
    """The searched genotype of the paper's Figure 11, from the one registry that holds it."""
    return {"genotype": ",".join(GENOTYPES.get(f"autosnn-lam{lam}")[1])}


PAPER_TABLE2 = (
    PaperRow("lambda 0", 88.69, 127e3, _paper_genotype("0")),
    PaperRow("lambda -0.08", 88.67, 108e3, _paper_genotype("0.08")),
    PaperRow("lambda -0.16", 88.46, 106e3, _paper_genotype("0.16")),
    PaperRow("lambda -0.24", 86.58, 54e3, _paper_genotype("0.24")),
)
PAPER = {"Table 2": PAPER_TABLE2}


def searched_space(ctx: ExperimentContext, space: str, lambdas: tuple[float, ...], *,
                   neuron: str = "plif", method: str = "evolution",
                   fitness: str = "power") -> tuple[SubRun, SubRun]:
    """The super-network of ``space`` and its search for ``lambdas`` (shared sub-run names)."""
    tag = "" if neuron == "plif" else f"-{neuron}"
    sn = ctx.supernet(f"supernet-{space}-C{ctx.channels}{tag}", space, neuron=neuron)
    lams = "_".join(lambda_key(x) for x in lambdas)
    se = ctx.search(f"search-{space}-C{ctx.channels}{tag}-{method}-{fitness}-{lams}", sn,
                    lambdas, fitness=fitness, method=method)
    return sn, se


def retrain_winner(ctx: ExperimentContext, search: SubRun, lam: float) -> SubRun:
    """Retrain the winner of ``lam`` (a genotype found twice is trained once)."""
    model = ctx.winner_model(search, lambda_key(lam))
    return ctx.train(train_name(model.space, model.genotype or "", model.channels), model)


def run(ctx: ExperimentContext, command: str | None = None) -> Path:
    _, search = searched_space(ctx, "snn1", LAMBDAS)
    rows, ours, paper, measured = [], [], [], []
    for lam, pr in zip(LAMBDAS, PAPER_TABLE2):
        key = lambda_key(lam)
        w = search.result["winners"][key]
        sub = retrain_winner(ctx, search, lam)
        a, s = acc(sub.result["accuracy"]), sub.result["spikes"]
        measured.append((lam, a, s))
        rows.append([key, w["genotype"], acc(w["accuracy"]), kspikes(w["spikes"]), a,
                     kspikes(s), pr.accuracy, kspikes(pr.spikes), pr.extra["genotype"]])
        ours.append((f"lambda {key}", a, s))
        paper.append((f"lambda {key}", pr.accuracy, pr.spikes))
    background = [(c["spikes"], c["accuracy"]) for c in search.result["candidates"]]
    plot = ctx.scatter("table2.png", ours, paper,
                       "Table 2: winners of the spike-aware search per lambda (retrained)")
    cand = ctx.scatter("table2-search.png", [(f"lambda {lambda_key(lam)} (D_val)",
                                              100 * search.result["winners"][lambda_key(lam)]["accuracy"],
                                              search.result["winners"][lambda_key(lam)]["spikes"])
                                             for lam in LAMBDAS], paper,
                       "Table 2: search candidates (inherited weights, D_val) and winners",
                       background=background, ours_y="D_val accuracy, inherited weights (%)")
    return ctx.write_report(
        title="Spike-aware search on SNN_1 for lambda 0, -0.08, -0.16, -0.24",
        table_no="Table 2",
        header=["lambda", "winner", "D_val acc (%, inherited)", "D_val spikes", "test acc (%)",
                "test spikes", "paper acc (%)", "paper spikes", "paper winner"],
        rows=rows, notes=trend_notes(measured) + [
            f"search candidates and winners on D_val: [{cand.name if cand else ''}]"
            f"({cand.name if cand else ''})",
            f"{search.result['evaluated']} distinct architectures evaluated in all"],
        command=command, plot=plot,
    )


def trend_notes(measured: list[tuple[float, float, float]]) -> list[str]:
    """Whether spikes fall as lambda grows more negative, and what it cost in accuracy."""
    by_lam = sorted(measured, key=lambda m: -m[0])  # 0 first
    spikes = [m[2] for m in by_lam]
    mono = all(b <= a for a, b in zip(spikes, spikes[1:]))
    first, last = by_lam[0], by_lam[-1]
    verdict = "held" if mono and last[2] < first[2] else (
        "held in part (not monotone)" if last[2] < first[2] else "did not hold")
    return [
        f"a more negative lambda gives fewer spikes: {verdict} (retrained spikes "
        + ", ".join(f"lambda {lambda_key(m[0])}: {m[2]:,.0f}" for m in by_lam) + ")",
        f"test accuracy change from lambda {lambda_key(first[0])} to {lambda_key(last[0])}: "
        f"{last[1] - first[1]:+.2f} %p, spikes x{last[2] / first[2]:.2f} (paper: -2.11 %p, "
        f"x0.43: 127K -> 54K spikes)",
    ]


def work(preset: str) -> Work:
    return Work(trains=len(LAMBDAS), supernets=1, search_lambdas=len(LAMBDAS))


EXPERIMENTS.add("table2", Experiment(
    name="table2", table="Table 2", title="lambda sweep of the spike-aware fitness (SNN_1 space)",
    run=run, work=work, paper=PAPER,
))
