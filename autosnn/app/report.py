"""What a chip search leaves for a person: sweep.json, the chosen winner as NIR with its hwsim
report (JSON + mesh PNG), and report.md (data, space, chip and budgets, the lambda chosen and why,
the winner next to the lambda = 0 winner and the best spike-only candidate)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autosnn.app.chipcost import OPTIONS, ChipCost
from autosnn.core.network import SpikingNet
from autosnn.core.progress import Reporter
from autosnn.core.spaces import Genotype
from autosnn.search.fitness import Evaluation, make_fitness
from hwsim.chip import BUDGET_NO_WHY
from safeio import write_json, write_text


def _fmt(x: Any, unit: str = "") -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.4g}{unit}"
    return f"{x}{unit}"


def _budgets_line(info: dict[str, Any], provenance: Any) -> str:
    """``max_energy_j 2e-05 (search: section of <file>, override with --max-energy: <why>),
    max_cores 32 (--max-cores)``, or ``none``: a reader must see which limits the profile
    imposed (and how to override them) and which were typed."""
    origins = info.get("budget_origins") or {}
    parts = []
    for name, value in info["budgets"].items():
        if value is None:
            continue
        option = OPTIONS[name][0] if name in OPTIONS else name
        where = option
        if origins.get(name) == "profile":
            where = f"search: section of {info.get('budget_profile')}, override with {option}"
            why = str(provenance.get(f"search.{name}", "")).removeprefix("BUDGET: ")
            where += f"; why: {why}" if why and why != BUDGET_NO_WHY else ""
        parts.append(f"{name} {value:g} ({where})")
    return ", ".join(parts) or "none"


def chip_outputs(out: Path, doc: dict, net: SpikingNet, chip: ChipCost,
                 by_geno: dict[Genotype, Evaluation], reporter: Reporter,
                 preprocess: dict[str, Any] | None = None) -> None:
    """Write sweep.json, winner.nir, hwsim-report.json, mesh PNG(s) and report.md into ``out``."""
    import hwsim.plot
    from autosnn.search.outputs import extract_winner
    from exporters import export

    info = doc["chip"]
    winners = doc["winners"]
    chosen = info["chosen"]
    sweep = {
        "chip": info["profile"], "metric": info["metric"], "budgets": info["budgets"],
        "budget_origins": info.get("budget_origins"), "budget_profile": info.get("budget_profile"),
        "reference_cost": info["reference_cost"], "chosen": chosen,
        "lambdas": [{"lambda": w["lambda"], "genotype": w["genotype"],
                     "accuracy": w["accuracy"], "spikes": w["spikes"], **w["chip"]}
                    for w in winners.values()],
    }
    write_json(out / "sweep.json", sweep)
    w = winners[chosen["key"]]
    write_json(out / "winner.json", w)  # the chosen lambda's winner (``train --winner``)
    g = tuple(w["genotype"].split(","))
    model = extract_winner(net, g, neuron="plif")
    export(model, "nir", out / "winner.nir", preprocess=preprocess)
    e = by_geno[g]
    rec = chip.record(e)
    write_json(out / "hwsim-report.json", rec.to_dict())
    pngs = hwsim.plot.plot_mesh(rec, out / "mesh.png")
    # the best candidate by the paper's spike-only fitness (same lambda), for comparison
    spike_fit = make_fitness(doc["fitness"]["form"], chosen["lambda"],
                             doc["supernet"]["spikes_avg"])
    spike_best = max(by_geno.values(), key=spike_fit)
    rows = [(f"chosen (lambda={chosen['key']})", e)]
    if "0" in winners:
        rows.append(("lambda=0 winner", by_geno[tuple(winners["0"]["genotype"].split(","))]))
    rows.append((f"spike-only fitness (lambda={chosen['key']})", spike_best))
    lines = [
        f"# Chip search report: {info['profile']}",
        "",
        f"- data: {doc['dataset']} ({doc['data'].get('val_limit') or 'all'} D_val samples cap), "
        f"space {doc['space']} C={doc['supernet']['config']['channels']} "
        f"T={doc['supernet']['config']['timesteps']}, seed {doc['seed']}",
        f"- fitness: {doc['fitness']['form']} form on {doc['fitness']['cost']}, "
        f"Cost_ref {doc['fitness']['cost_ref']:.4g} (mean over the feasible ones of "
        f"{info.get('reference_sample', '?')} sampled architectures)",
        f"- evaluated: {doc['evaluated']} architectures; "
        f"{info.get('rejected_before_evaluation', {}).get('count', 0)} rejected before "
        f"evaluation (they cannot map onto {info['profile']})",
        "- budgets: " + _budgets_line(info, chip.profile.provenance),
        f"- lambda chosen: **{chosen['key']}** ({chosen['reason']})",
        f"- winner: `{w['genotype']}`; files: winner.json (= winner-{chosen['key']}.json), "
        f"winner-{chosen['key']}.pt, winner.nir, "
        f"hwsim-report.json, {', '.join(p.name for p in pngs)}, pareto.png, sweep.json",
        "",
        "## Lambda sweep",
        "",
        "| lambda | genotype | D_val acc | spikes/img | feasible | energy/inf (J) | "
        "time/step (s) | cores | peak link util | binding |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in sweep["lambdas"]:
        lines.append(
            f"| {s['lambda']:g} | `{s['genotype']}` | {100 * s['accuracy']:.2f}% | "
            f"{s['spikes']:,.0f} | {'yes' if s['feasible'] else 'no'} | "
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
    write_text(out / "report.md", "\n".join(lines))
    reporter.log(f"lambda {chosen['key']} chosen for {info['profile']} ({chosen['reason']}); "
                 f"report: {out / 'report.md'}")
