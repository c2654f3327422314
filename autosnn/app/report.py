"""What a chip search leaves for a person: sweep.json, the chosen winner as NIR with its hwsim
report (JSON + mesh PNG), and report.md (data, space, chip and budgets, the lambda chosen and why,
the winner next to the lambda = 0 winner and the best spike-only candidate)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autosnn.app.chipcost import OPTIONS, ChipCost
from autosnn.app.outcome import ChipRun, SearchOutcome
from autosnn.core.network import SpikingNet
from autosnn.core.progress import Reporter
from autosnn.core.spaces import genotype_text
from autosnn.search.fitness import FitnessSpec
from hwsim.chip import BUDGET_NO_WHY
from safeio import write_json, write_text


def _fmt(x: Any, unit: str = "") -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.4g}{unit}"
    return f"{x}{unit}"


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
    """Write sweep.json, winner.nir, hwsim-report.json, mesh PNG(s) and report.md into ``out``."""
    import hwsim.plot
    from autosnn.search.outputs import extract_winner
    from exporters import export

    info, chosen = outcome.chip, outcome.chosen
    assert info is not None and chosen is not None, "chip outputs of a search without a chip"
    winners = outcome.winners
    sweep = {
        "chip": info.profile, "metric": info.metric, "budgets": info.budgets,
        "budget_origins": info.budget_origins, "budget_profile": info.budget_profile,
        "reference_cost": info.reference_cost, "chosen": chosen.to_json(),
        "lambdas": [{"lambda": w.lam, "genotype": genotype_text(w.genotype),
                     "accuracy": w.evaluation.accuracy, "spikes": w.evaluation.spikes,
                     **(w.chip.summary if w.chip else {})}
                    for w in winners.values()],
    }
    write_json(out / "sweep.json", sweep)
    w = winners[chosen.key]
    write_json(out / "winner.json", w.to_json())  # the chosen lambda's winner (``train --winner``)
    model = extract_winner(net, w.genotype, neuron="plif")
    export(model, "nir", out / "winner.nir", preprocess=preprocess)
    e = w.evaluation
    rec = chip.record(e)
    write_json(out / "hwsim-report.json", rec.to_dict())
    pngs = hwsim.plot.plot_mesh(rec, out / "mesh.png")
    write_text(out / "report.md", _report_md(outcome, chip, [p.name for p in pngs]))
    reporter.log(f"lambda {chosen.key} chosen for {info.profile} ({chosen.reason}); "
                 f"report: {out / 'report.md'}")


def _report_md(outcome: SearchOutcome, chip: ChipCost, pngs: list[str]) -> str:
    """report.md: the run's settings, the lambda sweep, the chosen winner and alternatives."""
    info, chosen = outcome.chip, outcome.chosen
    assert info is not None and chosen is not None
    winners = outcome.winners
    w = winners[chosen.key]
    e = w.evaluation
    # the best candidate by the paper's spike-only fitness (same lambda), for comparison
    spike_fit = FitnessSpec(outcome.fitness_form, outcome.spikes_avg).at(chosen.lam)
    spike_best = max((c.evaluation for c in outcome.candidates), key=spike_fit)
    rows = [(f"chosen (lambda={chosen.key})", e)]
    if "0" in winners:
        rows.append(("lambda=0 winner", winners["0"].evaluation))
    rows.append((f"spike-only fitness (lambda={chosen.key})", spike_best))
    config = outcome.supernet_config
    lines = [
        f"# Chip search report: {info.profile}",
        "",
        f"- data: {outcome.dataset} ({outcome.data.get('val_limit') or 'all'} D_val samples cap), "
        f"space {outcome.space} C={config['channels']} T={config['timesteps']}, "
        f"seed {outcome.seed}",
        f"- fitness: {outcome.fitness_form} form on {outcome.cost_name}, "
        f"Cost_ref {outcome.cost_ref:.4g} (mean over the feasible ones of "
        f"{info.reference_sample} sampled architectures)",
        f"- evaluated: {len(outcome.candidates)} architectures; "
        f"{info.rejected.get('count', 0)} rejected before "
        f"evaluation (they cannot map onto {info.profile})",
        "- budgets: " + _budgets_line(info, chip.profile.provenance),
        f"- lambda chosen: **{chosen.key}** ({chosen.reason})",
        f"- winner: `{genotype_text(w.genotype)}`; files: winner.json (= winner-{chosen.key}.json), "
        f"winner-{chosen.key}.pt, winner.nir, "
        f"hwsim-report.json, {', '.join(pngs)}, pareto.png, sweep.json",
        "",
        "## Lambda sweep",
        "",
        "| lambda | genotype | D_val acc | spikes/img | feasible | energy/inf (J) | "
        "time/step (s) | cores | peak link util | binding |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for lw in winners.values():
        s, ev = chip.summary(lw.evaluation), lw.evaluation
        lines.append(
            f"| {lw.lam:g} | `{genotype_text(lw.genotype)}` | {100 * ev.accuracy:.2f}% | "
            f"{ev.spikes:,.0f} | {'yes' if s['feasible'] else 'no'} | "
            f"{_fmt(s['energy_per_inference_j'])} | {_fmt(s['time_per_timestep_s'])} | "
            f"{s['cores_used']} | {_fmt(s['max_link_utilisation'])} | {s['binding'] or ''} |"
        )
    lines += ["", "## Chosen winner against the alternatives", "",
              "| network | genotype | D_val acc | spikes/img | energy/inf (J) | dynamic (J) | "
              "static (J) | time/step (s) | cores |", "|---|---|---|---|---|---|---|---|---|"]
    for label, ev in rows:
        s = chip.summary(ev)
        lines.append(
            f"| {label} | `{','.join(ev.genotype)}` | {100 * ev.accuracy:.2f}% | "
            f"{ev.spikes:,.0f} | {_fmt(s['energy_per_inference_j'])} | "
            f"{_fmt(s['energy_dynamic_j'])} | {_fmt(s['energy_static_j'])} | "
            f"{_fmt(s['time_per_timestep_s'])} | {s['cores_used']} |"
        )
    lines += ["", "Accuracies are on D_val with inherited super-network weights (retrain the "
              "winner with `autosnn train --winner` for test accuracy).", ""]
    return "\n".join(lines)
