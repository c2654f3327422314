"""Table 1 (and Table 8): SNN_1..SNN_4 with every TBD block SCB_k3 (Table 8: SRB_k3).

The paper's Section 3 findings: a GAP layer (SNN_2) and average-pool down-sampling (SNN_4) cost
accuracy and add spikes; trainable down-sampling blocks (SNN_3) buy some accuracy with many more
spikes. The report checks each finding on the measured numbers and says whether it held.
"""

from __future__ import annotations

from pathlib import Path

from autosnn.app.experiments.base import ExperimentContext, PaperRow, acc, kspikes
from autosnn.app.experiments.registry import EXPERIMENTS, Experiment, Work
from autosnn.app.pipeline import ModelSpec
from autosnn.core.spaces import get_space

# (label, space, GAP, down-sampling; None: the TBD block itself)
ARCHS = (("SNN_1", "snn1", False, "MaxPool"), ("SNN_2", "snn2", True, "MaxPool"),
         ("SNN_3", "snn3", False, None), ("SNN_4", "snn4", False, "AvgPool"))

# CIFAR-10, C = 16, T = 8 (paper Table 1 and Table 8): accuracy %, spikes per image.
PAPER_TABLE1 = (PaperRow("SNN_1", 86.93, 154e3), PaperRow("SNN_2", 85.05, 168e3),
                PaperRow("SNN_3", 87.94, 222e3), PaperRow("SNN_4", 79.59, 293e3))
PAPER_TABLE8 = (PaperRow("SNN_1", 87.54, 146e3), PaperRow("SNN_2", 85.82, 168e3),
                PaperRow("SNN_3", 89.18, 221e3), PaperRow("SNN_4", 83.79, 291e3))
PAPER = {"Table 1": PAPER_TABLE1, "Table 8": PAPER_TABLE8}
BLOCKS = (("SCB_k3", "Table 1"), ("SRB_k3", "Table 8"))


def uniform(space: str, block: str) -> str:
    """Genotype text with ``block`` in every TBD slot of ``space``."""
    return ",".join([block] * len(get_space(space).slots))


def train_name(space: str, genotype: str, channels: int, suffix: str = "") -> str:
    """Sub-run folder of a retraining: the same network gets the same folder in every table."""
    short = "-".join(b.replace("_k", "").replace("_e", "e") for b in genotype.split(","))
    return f"train-{space}-{short}-C{channels}{suffix}"


def findings(label: str, m: dict[str, tuple[float, float]]) -> list[str]:
    """The paper's qualitative claims, checked on measured (accuracy, spikes) per SNN_i."""
    a1, s1 = m["SNN_1"]
    out = []
    for arch, claim, ok in (
        ("SNN_2", "GAP costs accuracy and adds spikes", lambda a, s: a < a1 and s > s1),
        ("SNN_4", "average-pool down-sampling costs accuracy and adds spikes",
         lambda a, s: a < a1 and s > s1),
        ("SNN_3", "trainable down-sampling blocks add spikes (paper: x1.44 spikes, +1.01 %p "
         "accuracy; checked: the spikes)", lambda a, s: s > s1),
    ):
        a, s = m[arch]
        verdict = "held" if ok(a, s) else "did not hold"
        out.append(f"{label}: {claim} - {verdict} ({arch} {a:.2f} % / {s:,.0f} spikes vs SNN_1 "
                   f"{a1:.2f} % / {s1:,.0f}: accuracy {a - a1:+.2f} %p, spikes x{s / s1:.2f})")
    return out


def run(ctx: ExperimentContext, command: str | None = None) -> Path:
    rows, ours, paper, notes = [], [], [], []
    for block, table in BLOCKS:
        measured: dict[str, tuple[float, float]] = {}
        for (label, space, gap, down), pr in zip(ARCHS, PAPER[table]):
            geno = uniform(space, block)
            sub = ctx.train(train_name(space, geno, ctx.channels),
                            ModelSpec(space=space, channels=ctx.channels, genotype=geno))
            a, s = acc(sub.result["accuracy"]), sub.result["spikes"]
            measured[label] = (a, s)
            rows.append([table, label, "yes" if gap else "no", block, down or block,
                         a, kspikes(s), pr.accuracy, kspikes(pr.spikes)])
            ours.append((f"{label} {block}", a, s))
            paper.append((f"{label} {block}", pr.accuracy, pr.spikes))
        notes += findings(block, measured)
    plot = ctx.scatter("table1.png", ours, paper,
                       "Table 1 / Table 8: SNN_1..SNN_4 with SCB_k3 and SRB_k3")
    return ctx.write_report(
        title="SNN_1..SNN_4 with SCB_k3 and SRB_k3 in every TBD block",
        table_no="Table 1 and Table 8",
        header=["table", "architecture", "GAP", "normal", "down-sample", "acc (%)", "spikes",
                "paper acc (%)", "paper spikes"],
        rows=rows, notes=notes, command=command, plot=plot,
    )


def work(preset: str) -> Work:
    return Work(trains=len(ARCHS) * len(BLOCKS))


EXPERIMENTS.add("table1", Experiment(
    name="table1", table="Table 1 (+ Table 8)",
    title="SNN_1..SNN_4 (GAP, max/avg-pool, trainable down-sampling) with SCB_k3 and SRB_k3",
    run=run, work=work, paper=PAPER,
))
