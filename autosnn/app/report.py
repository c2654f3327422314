"""What a chip search leaves for a person: sweep.json, the chosen network as NIR with its hwsim
report (JSON + mesh PNG), and report.md, a decision record (what was chosen and why, its chip
cost and accuracy interval, the rule, one row per distinct finalist)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autosnn.app.chipcost import OPTIONS, ChipCost
from autosnn.app.outcome import ChipRun, SearchOutcome
from autosnn.core.network import SpikingNet
from autosnn.core.progress import Reporter
from autosnn.core.spaces import genotype_text
from hwsim.chip import BUDGET_NO_WHY
from safeio import write_json, write_text


def _budgets_line(info: ChipRun, provenance: Any) -> str:
    """``max_energy_j 2e-05 (search: section of <file>, override with --max-energy: <why>),
    max_cores 32 (--max-cores)``, or ``none``: a reader must see which limits the profile
    imposed (and how to override them) and which were typed."""
    origins = info.budget_origins
    parts = []
    for name, value in info.budgets.items():
        if value is None:
            continue
        option = OPTIONS[name][0] if name in OPTIONS else name
        where = option
        if origins.get(name) == "profile":
            where = f"search: section of {info.budget_profile}, override with {option}"
            why = str(provenance.get(f"search.{name}", "")).removeprefix("BUDGET: ")
            where += f"; why: {why}" if why and why != BUDGET_NO_WHY else ""
        parts.append(f"{name} {value:g} ({where})")
    return ", ".join(parts) or "none"


def chip_outputs(out: Path, outcome: SearchOutcome, net: SpikingNet, chip: ChipCost,
                 reporter: Reporter, preprocess: dict[str, Any] | None = None) -> None:
    """Write sweep.json, winner.nir, hwsim-report.json, mesh PNG(s) and report.md into ``out``
    (winner.json / winner.pt, the chosen finalist, are the search's own outputs)."""
    import hwsim.plot
    from autosnn.search.outputs import extract_winner
    from exporters import export

    info, chosen, deploy = outcome.chip, outcome.chosen, outcome.deploy
    assert info is not None and chosen is not None and deploy is not None, "not a chip search"
    sweep = {
        "chip": info.profile, "metric": info.metric, "budgets": info.budgets,
        "budget_origins": info.budget_origins, "budget_profile": info.budget_profile,
        "reference_cost": info.reference_cost, "chosen": chosen.to_json(),
        "lambdas": [{"lambda": w.lam, "genotype": genotype_text(w.genotype),
                     "accuracy": w.evaluation.accuracy, "spikes": w.evaluation.spikes,
                     **(w.chip.summary if w.chip else {})}
                    for w in outcome.winners.values()],
    }
    write_json(out / "sweep.json", sweep)
    model = extract_winner(net, deploy.genotype, neuron="plif")
    export(model, "nir", out / "winner.nir", preprocess=preprocess)
    rec = chip.record(deploy.evaluation)  # the activity measured on the whole D_val
    write_json(out / "hwsim-report.json", rec.to_dict())
    pngs = hwsim.plot.plot_mesh(rec, out / "mesh.png")
    write_text(out / "report.md", report_md(outcome, chip.profile.provenance,
                                            [p.name for p in pngs]))
    reporter.log(f"chosen for {info.profile}: {genotype_text(deploy.genotype)} "
                 f"({chosen.reason}); report: {out / 'report.md'}")


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


# a chip figure -> the summary key of its low/high bracket
RANGED = {"energy_per_inference_j": "energy_per_inference_range_j",
          "time_per_timestep_s": "time_per_timestep_range_s"}


def _span(s: dict[str, Any], figure: str, scale: float) -> str:
    """`` [low, high]`` of a ranged chip figure (:meth:`ChipCost.ranges`), or nothing."""
    r = s.get(RANGED[figure]) if figure in RANGED else None
    return "" if not r else f" [{r[0] * scale:.4g}, {r[1] * scale:.4g}]"


def _chip_line(s: dict[str, Any]) -> str:
    """``74.5 uJ [56, 93] per inference, 0.32 ms [0.24, 0.4] per timestep (1.3 ms per
    inference), 12 cores``: the brackets are hwsim's low/high from the profile's ranges."""
    def num(key: str, scale: float, unit: str) -> str:
        x = s[key]
        return "-" if x is None else f"{x * scale:.4g} {unit}{_span(s, key, scale)}"
    return (f"{num('energy_per_inference_j', 1e6, 'uJ')} per inference, "
            f"{num('time_per_timestep_s', 1e3, 'ms')} per timestep "
            f"({num('latency_per_inference_s', 1e3, 'ms')} per inference), "
            f"{s['cores_used']} cores")


def report_md(outcome: SearchOutcome, provenance: Any, pngs: list[str]) -> str:
    """report.md as a decision record: what was chosen, its chip cost and accuracy with their
    uncertainty, the rule, then one row per distinct finalist (what each would give instead)."""
    info, chosen, deploy, fin = outcome.chip, outcome.chosen, outcome.deploy, outcome.finalists
    assert info is not None and chosen is not None and deploy is not None and fin is not None
    rec = fin.record(deploy.genotype)
    lo, hi = rec.interval
    knee = ("not defined (fewer than three distinct feasible finalists, or none above the line "
            "from the cheapest to the most accurate)" if fin.knee is None
            else f"`{genotype_text(fin.knee)}` (reported only; the rule above decides)")
    config = outcome.supernet_config
    lines = [
        f"# Chip search report: {info.profile}",
        "",
        "## Decision",
        "",
        f"**Deploy `{genotype_text(deploy.genotype)}`** (lambda chosen: **{chosen.key}**, the "
        f"lambda whose search ranked it best): D_val accuracy {_pct(rec.full.accuracy)} "
        f"[{_pct(lo)}, {_pct(hi)}] (95 % Wilson, {fin.samples:,} images); on {info.profile}: "
        f"{_chip_line(rec.chip.summary)}.",
        "",
        f"- rule: {fin.rule}",
        f"- why: {chosen.reason}",
        "- most accurate feasible finalist: " + ("the chosen one" if fin.best == fin.chosen
                                                 else f"`{genotype_text(fin.best)}`"),
        f"- knee of the finalists' accuracy/cost front: {knee}",
        f"- files: winner.json / winner.pt (this network), winner.nir, hwsim-report.json, "
        f"{', '.join(pngs)}, pareto.png, sweep.json; winner-<lambda>.json per lambda",
        "",
        "## Setup",
        "",
        f"- data: {outcome.dataset}; the search ranked candidates on "
        f"{fin.search_samples:,} D_val images, the finalists (top {fin.per_lambda} of every "
        f"lambda) were re-measured on {fin.samples:,}; space {outcome.space} "
        f"C={config['channels']} T={config['timesteps']}, seed {outcome.seed}",
        f"- fitness: {outcome.fitness_form} form on {outcome.cost_name}, "
        f"Cost_ref {outcome.cost_ref:.4g} (mean over the feasible ones of "
        f"{info.reference_sample} sampled architectures); lambdas "
        f"{', '.join(f'{lam:g}' for lam in outcome.lambdas)}",
        f"- evaluated: {len(outcome.candidates)} architectures; "
        f"{info.rejected.get('count', 0)} rejected before "
        f"evaluation (they cannot map onto {info.profile})",
        "- budgets: " + _budgets_line(info, provenance),
        "",
        *_finalist_table(outcome),
        "",
        "Accuracies are on D_val with inherited super-network weights (retrain the chosen "
        "network with `autosnn train --winner winner.json` for test accuracy). Chip figures are "
        "hwsim's point estimates with each finalist's activity measured on the whole D_val; "
        "in brackets, hwsim's low/high with every figure the profile gives a range (fitted or "
        "assumed) at its low and at its high end. These move all finalists together, so they "
        "bound what the chip may cost, not which finalist is cheaper; the profile's assumed "
        "figures are listed in hwsim-report.json (`assumptions`).",
        "",
    ]
    return "\n".join(lines)


def _finalist_table(outcome: SearchOutcome) -> list[str]:
    """One row per distinct finalist, cheapest first."""
    fin, info = outcome.finalists, outcome.chip
    assert fin is not None and info is not None
    lines = [f"## Finalists ({len(fin.records)} distinct, cheapest first)", "",
             "| | genotype | lambda (rank) | search D_val acc | D_val acc [95 %] | vs best, pp "
             "[95 % paired] | energy/inf (uJ) [low, high] | time/step (ms) [low, high] | cores | "
             "within budget |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    inf = float("inf")
    for r in sorted(fin.records, key=lambda r: (r.chip.cost if r.chip.cost is not None else inf,
                                                -r.full.accuracy)):
        mark = " ".join(m for m, on in (("**chosen**", r.genotype == fin.chosen),
                                        ("best", r.genotype == fin.best)) if on)
        d = r.versus_best
        versus = ("reference" if r.genotype == fin.best else "-" if d is None else
                  f"{100 * d.diff:+.2f} [{100 * d.low:+.2f}, {100 * d.high:+.2f}]")
        s = r.chip.summary
        ranks = ", ".join(f"{k} ({n})" for k, n in r.ranks.items())
        energy, step = s["energy_per_inference_j"], s["time_per_timestep_s"]
        lines.append(
            f"| {mark} | `{genotype_text(r.genotype)}` | {ranks} | {_pct(r.search.accuracy)} | "
            f"{_pct(r.full.accuracy)} [{100 * r.interval[0]:.2f}, {100 * r.interval[1]:.2f}] | "
            f"{versus} | {'-' if energy is None else f'{energy * 1e6:.4g}'}"
            f"{_span(s, 'energy_per_inference_j', 1e6)} | "
            f"{'-' if step is None else f'{step * 1e3:.4g}'}"
            f"{_span(s, 'time_per_timestep_s', 1e3)} | {s['cores_used']} | "
            f"{'yes' if r.chip.feasible else 'no: ' + str(r.chip.binding)} |")
    return lines
