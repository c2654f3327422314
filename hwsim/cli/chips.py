"""``hwsim chips``: the built-in profiles and their key figures."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table

from hwsim.chip import list_chips, load_chip
from hwsim.cli.common import app


@app.command("chips")
def chips_cmd() -> None:
    """List the built-in chip profiles and their key figures (* = assumed, not published)."""
    table = Table(
        "chip",
        "chips",
        "mesh",
        "cores",
        "neurons/core",
        "syn mem/core",
        "multicast",
        "E synop",
        "E hop",
        "static",
        "step",
    )
    for name in list_chips():
        c = load_chip(name)

        def mark(key: str, text: str, c: Any = c) -> str:
            kind = c.provenance[key].split(":", 1)[0]
            return text + {"ASSUMED": "*", "FITTED": "~"}.get(kind, "")

        mem = c.synapse_memory_bits_per_core
        table.add_row(
            name,
            f"{c.board_rows}x{c.board_cols}" if c.board_name else "1",
            mark("mesh.rows", f"{c.rows}x{c.cols}x{c.cores_per_router}"),
            mark("mesh.cores_total", str(c.n_cores)),
            mark("core.neurons_per_core", str(c.neurons_per_core)),
            mark(
                "core.synapse_memory_bits_per_core",
                "formula" if not math.isfinite(mem) else f"{mem / 8192:.0f} KiB",
            ),
            mark("routing.multicast", "yes" if c.multicast else "no"),
            mark("energy.energy_synop_j", f"{c.energy_synop_j * 1e12:.3g} pJ"),
            mark("energy.energy_hop_j", f"{c.energy_hop_j * 1e12:.3g} pJ"),
            mark("energy.power_static_w", f"{c.power_static_w * 1e3:.3g} mW"),
            mark("timing.step_model", c.step_model),
        )
    Console(width=max(Console().width, 150)).print(table)
