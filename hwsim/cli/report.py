"""How ``hwsim estimate`` prints a cost record: the headline, per-layer table, traffic, time and
energy split, and the spread trade-off."""

from __future__ import annotations

import itertools
from typing import Any

from rich.console import Console
from rich.table import Table

from hwsim.cli.common import fmt
from hwsim.estimate import CostRecord


def print_record(rec: CostRecord) -> None:
    """The record as a person reads it: what fits, then where the spikes, time and energy go."""
    console = Console(width=max(Console().width, 120))
    console.print(_headline(rec))
    for reason in rec.reasons:
        console.print(f"  does not fit: {reason}")
    table = Table("layer", "neurons", "cores", "spikes", "synops in", "messages", "hops")
    for la in rec.layers:
        table.add_row(la.name, str(la.neurons), str(la.cores), f"{la.spikes:.4g}",
                      f"{la.synops_in:.4g}", f"{la.messages:.4g}", f"{la.hops:.4g}")
    console.print(table)
    for line in _figures(rec):
        console.print(line)
    if rec.tradeoff:
        console.print(_tradeoff_table(rec.tradeoff))
        console.print(f"  {tradeoff_verdict(rec.tradeoff)}")
    for a in rec.assumptions:
        console.print(f"  assumption: {a}")


def _headline(rec: CostRecord) -> str:
    state = "feasible" if rec.feasible else "INFEASIBLE"
    system = f"{rec.board} ({rec.chips_used} chip(s) used)" if rec.board else rec.chip
    return (
        f"[bold]{system}[/bold] ({rec.placement}): {state}, "
        f"{rec.cores_used}/{rec.cores_available} cores"
        + (f" ({rec.splitter_cores} of splitter neurons)" if rec.splitter_cores else "")
        + f", T={rec.timesteps}, {rec.step_model} timestep model"
    )


def _figures(rec: CostRecord) -> list[str]:
    """Traffic, the busiest link, time per step and energy per inference, one line each."""
    board = bool(rec.board)
    sat = " [red]TICK OVERRUN[/red]" if rec.saturated else ""
    splitters = f", splitters {fmt(rec.energy_splitters_j, 'J')}" if rec.splitter_cores else ""
    return [
        f"spikes {rec.spikes:.4g}, synops {rec.synops:.4g}, "
        f"messages {fmt(rec.messages, '')}, hops {fmt(rec.hops, '')}"
        + (f", chip-to-chip messages {fmt(rec.interchip_messages, '')}" if board else ""),
        f"busiest link {fmt(rec.max_link_load_per_step, 'messages/step')}, peak utilisation "
        f"{fmt(rec.max_link_utilisation, '')}"
        + (f" (chip-to-chip {fmt(rec.max_interchip_utilisation, '')})" if board else "")
        + sat,
        f"time per timestep {fmt(rec.time_per_timestep_s, 's')} mean, "
        f"{fmt(rec.time_per_timestep_peak_s, 's')} at peak step {rec.peak_timestep} "
        f"(compute {fmt(rec.time_compute_s, 's')}, network drain "
        f"{fmt(rec.time_network_s, 's')}; bound by {rec.bound or 'n/a'})",
        f"energy per inference {fmt(rec.energy_total_j, 'J')} = dynamic "
        f"{fmt(rec.energy_dynamic_j, 'J')} (synops {fmt(rec.energy_synops_j, 'J')}, neurons "
        f"{fmt(rec.energy_neurons_j, 'J')}, spikes {fmt(rec.energy_spikes_j, 'J')}, messages "
        f"{fmt(rec.energy_messages_j, 'J')}, routing {fmt(rec.energy_routing_j, 'J')}"
        f"{splitters}) + static {fmt(rec.energy_static_j, 'J')}"
        + (f"; the board's idle draw adds {fmt(rec.energy_board_idle_j, 'J')} (not chip energy)"
           if rec.energy_board_idle_j else ""),
    ]


def _tradeoff_table(rows: tuple[dict[str, Any], ...]) -> Table:
    trade = Table("cores", "chips", "s/step", "compute", "network", "energy J", "peak rho",
                  "bound", title="spread: time per step against cores")
    for row in rows:
        trade.add_row(
            str(row["cores"]),
            str(row["chips"]),
            f"{row['time_per_timestep_s']:.3g}",
            f"{row['time_compute_s']:.3g}",
            f"{row['time_network_s']:.3g}",
            f"{row['energy_total_j']:.3g}",
            f"{row['max_link_utilisation']:.3g}",
            row["bound"],
        )
    return trade


def tradeoff_verdict(rows: tuple[dict[str, Any], ...]) -> str:
    """Where spreading stops paying: the first budget where doubling the cores gains under
    1.25x (ideal: 2x), or where the network drain becomes what binds the timestep."""
    for prev, row in itertools.pairwise(rows):
        gain = prev["time_per_timestep_s"] / row["time_per_timestep_s"]
        if gain < 1.25 or row["bound"] == "network":
            return (
                f"more cores stop paying at {prev['cores']} cores: {row['cores']} cores give "
                f"{gain:.2f}x ({row['bound']}-bound, network {row['time_network_s']:.3g} s/step)"
            )
    last = rows[-1]
    return (
        f"still gaining at {last['cores']} cores (the budget): {last['bound']}-bound; "
        "allow more cores (--max-cores, a board profile) to find the turn"
    )
