"""Table 7: the search run in the ANN space (ReLU instead of PLIF, accuracy-only fitness).

The ANN super-network's winner gets spiking neurons and is retrained like any winner; it is
compared with the winner of the spiking search at lambda = 0 (table2's search, shared).
"""

from __future__ import annotations

from pathlib import Path

from autosnn.app.experiments.base import ExperimentContext, PaperRow, acc, kspikes
from autosnn.app.experiments.registry import EXPERIMENTS, Experiment, Work
from autosnn.app.experiments.table2 import LAMBDAS, retrain_winner, searched_space

PAPER_TABLE7 = (PaperRow("w/o spiking neurons (ANN)", 88.02, 134e3),
                PaperRow("w/ spiking neurons (proposed)", 88.69, 127e3))
PAPER = {"Table 7": PAPER_TABLE7}


def run(ctx: ExperimentContext, command: str | None = None) -> Path:
    _, ann = searched_space(ctx, "snn1", (0.0,), neuron="relu")
    _, snn = searched_space(ctx, "snn1", LAMBDAS)
    rows, ours, paper = [], [], []
    for label, search, pr in (("w/o spiking neurons (ANN search space)", ann, PAPER_TABLE7[0]),
                              ("w/ spiking neurons (proposed)", snn, PAPER_TABLE7[1])):
        sub = retrain_winner(ctx, search, 0.0)
        a, s = acc(sub.result["accuracy"]), sub.result["spikes"]
        rows.append([label, search.result["winners"]["0"]["genotype"], a, kspikes(s),
                     pr.accuracy, kspikes(pr.spikes)])
        ours.append((label, a, s))
        paper.append((label, pr.accuracy, pr.spikes))
    plot = ctx.scatter("table7.png", ours, paper, "Table 7: searching without spiking neurons")
    return ctx.write_report(
        title="Search in the ANN space vs the SNN space (lambda 0)", table_no="Table 7",
        header=["search space", "winner (retrained with PLIF)", "acc (%)", "spikes",
                "paper acc (%)", "paper spikes"],
        rows=rows, command=command, plot=plot,
        notes=["both winners are retrained as spiking networks from scratch"],
    )


def work(preset: str) -> Work:
    return Work(trains=2, supernets=2, search_lambdas=1 + len(LAMBDAS))


EXPERIMENTS.add("table7", Experiment(
    name="table7", table="Table 7", title="search in the ANN space (ReLU) vs the SNN space",
    run=run, work=work, paper=PAPER,
))
