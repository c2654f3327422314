"""report.md of ``autosnn train --winner`` for a chip-search winner: the network the search
costed and the network a user deploys, side by side on the same chip.

The search costs an architecture with the super-network's inherited weights; retraining from
scratch changes how much it fires (the demo's winner: 105 uJ in the search, 148 uJ retrained), so
a budget the search met is only a promise until the retrained network is costed. This page
shows both figures, the fine-tuning that brought the deployed one within the budgets (or the
numbers it misses by), in the chip's readable units. The record it renders is the one
``train.json`` keeps under ``"budget"`` (:func:`autosnn.app.deployed.keep_within_budget`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autosnn.app.deployed import BUDGET_FIGURE
from autosnn.core.errors import AutosnnError

TITLE = "# Deployed network on "

# budget name -> (unit shown, scale from the budget's SI value)
UNITS = {
    "max_energy_j": ("uJ", 1e6),
    "max_latency_s": ("ms per step", 1e3),
    "max_cores": ("cores", 1.0),
    "max_link_util": ("of a link's capacity", 1.0),
}


def check_report_target(out: Path) -> None:
    """Refuse, before training, an ``--out`` whose report.md another command wrote (a chip
    search's folder): retraining must not replace the search's decision record."""
    path = out / "report.md"
    if not path.is_file():
        return
    with path.open("rb") as f:
        head = f.read(len(TITLE)).decode("utf-8", "replace")
    if head != TITLE:
        raise AutosnnError(f"{path}: a report.md another command wrote (not a deployed-network "
                           f"report) is in --out {out}; retrain into another folder, e.g. "
                           f"{out / 'train'}")


def _num(x: float | None, digits: int = 4) -> str:
    return "n/a" if x is None else f"{x:,.{digits}g}"


def _spikes(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.0f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f} %"


def _verdict(stage: dict[str, Any]) -> str:
    if not stage.get("budgets"):
        return "no budget"
    return "yes" if stage["budget_met"] else "no"


def _row(label: str, c: dict[str, Any], test: float | None, verdict: str) -> str:
    cores = "n/a" if c.get("cores") is None else f"{c['cores']:.0f}"
    return (f"| {label} | {_pct(c.get('accuracy_val'))} | {_pct(test)} | "
            f"{_spikes(c.get('spikes'))} | {_num(c.get('energy_uj'))} | "
            f"{_num(c.get('latency_ms_per_step'))} | {cores} | {verdict} |")


def _budget(name: str, value: float | None) -> str:
    unit, scale = UNITS.get(name, ("", 1.0))
    return "n/a" if value is None else f"{value * scale:.4g} {unit}".strip()


def deployed_report_md(record: dict[str, Any], model: str, test_samples: int, *,
                       val_in_training: bool) -> str:
    """The deployed-network page for ``record`` (``train.json``'s ``"budget"``) of ``model``
    (``space:genotype``), whose test accuracy was measured on ``test_samples`` images;
    ``val_in_training``: the retraining saw D_val (the default, whole training set)."""
    before, after, rounds = record["before"], record["after"], record["rounds"]
    searched = record.get("searched") or {}
    has_budgets = bool(after.get("budgets"))
    lines = [
        f"{TITLE}{record['chip']}",
        "",
        f"`{model}`, retrained by `autosnn train --winner`, costed on {record['chip']} by hwsim "
        f"(profile `{record['profile']}`, placement {record['placement']}) with the activity "
        f"measured per layer and timestep on {record['measured_on']}, the same way the chip "
        f"search costed it with the super-network's weights.",
        "",
        "## Verdict",
        "",
    ]
    if record.get("message"):
        lines.append(f"**Over budget**: {record['message']}.")
    elif has_budgets:
        how = ("as trained" if rounds == 0 else
               f"after {rounds} fine-tuning round(s) with the spike regulariser")
        lines.append(f"**Within every budget** on {record['chip']} {how}.")
    else:
        lines.append("No budget was set in the search; the figures below compare the searched "
                     "and the deployed network only.")
    lines += [
        "",
        "## Searched vs deployed",
        "",
        "| network | D_val acc | test acc | spikes/img | energy/inf (uJ) | time/step (ms) | cores "
        "| within budget |",
        "|---|---|---|---|---|---|---|---|",
    ]
    if searched:
        lines.append(_row("searched (super-network weights)", searched, None,
                          "yes" if has_budgets else "no budget"))
    lines.append(_row("retrained, as trained", before, before.get("test_accuracy"),
                      _verdict(before)))
    if rounds:
        lines.append(_row(f"after {rounds} budget round(s)", after, after.get("test_accuracy"),
                          _verdict(after)))
    if has_budgets:
        lines += ["", "## Budgets (the search's, carried in winner.json)", "",
                  "| budget | limit | searched | retrained | deployed | met |",
                  "|---|---|---|---|---|---|"]
        found = {b["budget"]: b for b in before["budgets"]}
        for b in after["budgets"]:
            name = b["budget"]
            key, scale = BUDGET_FIGURE.get(name, ("", 1.0))
            s = searched.get(key)
            lines.append(f"| `{b['option']}` | {_budget(name, b['limit'])} | "
                         f"{_budget(name, None if s is None else s * scale)} | "
                         f"{_budget(name, found.get(name, {}).get('value'))} | "
                         f"{_budget(name, b['value'])} | {'yes' if b['met'] else 'no'} |")
    lines += [
        "",
        f"Test accuracy on {test_samples:,} test images. The searched row is the chip search's "
        "own figures (whole-D_val accuracy with inherited weights). "
        + ("Retraining used the whole training set, D_val included, so the deployed rows' D_val "
           "accuracy is not a held-out figure; the test accuracy is. " if val_in_training else "")
        + "Chip figures are hwsim's point estimates; the profile's assumed figures are listed "
        "in the search's hwsim-report.json.",
        "",
    ]
    return "\n".join(lines)
