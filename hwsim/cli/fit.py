"""``hwsim fit``: which widths and kernel sizes of a graph would fit a chip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hwsim.activity import BYTES_PER_NEURON_STEP, DEFAULT_TIMESTEPS, MEMORY_BUDGET_BYTES
from hwsim.chip import load_chip
from hwsim.cli.common import app, fail, jsonable
from hwsim.errors import HwsimInputError
from hwsim.fit import FitRow, base_width, fit
from hwsim.network import Network, read_network


@app.command("fit")
def fit_cmd(
    net: Annotated[Path, typer.Argument(help="NIR graph file")],
    chip: Annotated[str, typer.Option(help="built-in profile name or YAML path")] = "speck",
    widths: Annotated[
        str | None, typer.Option(help="comma-separated widths (first layer's channels) to try")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Which widths (channels) and conv kernel sizes of NET would fit the chip, and why not."""
    spec = load_chip(chip)
    network = read_network(net)
    try:
        c0 = base_width(network)
    except ValueError as exc:
        raise fail(f"{net}: {exc}") from None
    wlist = None if widths is None else _widths(widths, network, c0)
    try:
        rows = fit(network, spec, widths=wlist)
    except HwsimInputError:
        raise
    except ValueError as exc:
        raise fail(f"{net}: {exc}") from None
    if as_json:
        typer.echo(
            json.dumps(jsonable([vars(r) | {"reasons": list(r.reasons)} for r in rows]), indent=2)
        )
        return
    _print_rows(rows, spec.name, c0)


def _widths(text: str, network: Network, c0: int) -> list[int]:
    """``--widths`` parsed, widest first; a width whose network would not fit in memory is
    refused with the figure before anything is scaled (100,000 channels is gigabytes)."""
    try:
        wlist = sorted({int(w) for w in text.split(",")}, reverse=True)
    except ValueError:
        raise HwsimInputError("--widths", text, "comma-separated integers") from None
    if not wlist or min(wlist) < 1:
        raise HwsimInputError("--widths", text, "positive integers")
    T = network.timesteps or DEFAULT_TIMESTEPS
    need = _scaled_footprint(network, wlist[0] / c0, T)
    if need > MEMORY_BUDGET_BYTES:
        raise HwsimInputError(
            "--widths", str(wlist[0]),
            f"a width whose network fits in {MEMORY_BUDGET_BYTES >> 30} GiB (width {wlist[0]}, "
            f"built {c0}, needs about {need / 2**30:.3g} GiB at T = {T})",
        )
    return wlist


def _scaled_footprint(network: Network, f: float, timesteps: int) -> float:
    """About the bytes `fit` allocates at width factor `f`: the layers with channels (not the
    input) grow by `f` (hwsim.fit's rule), dense masks by the growth of their two ends."""
    def size(name: str) -> float:
        la = network.layer(name)
        return la.size * (f if la.kind != "input" and len(la.shape) == 3 else 1.0)

    neurons = sum(size(la.name) for la in network.layers)
    masks = sum(size(p.src) * size(p.dst) for p in network.projections if p.kind == "dense")
    return BYTES_PER_NEURON_STEP * timesteps * neurons + masks


def _print_rows(rows: list[FitRow], chip: str, c0: int) -> None:
    console = Console(width=max(Console().width, 140))
    table = Table("width", "kernel", "fits", "cores", "first reason it does not fit")
    for r in rows:
        table.add_row(
            str(r.width),
            "as built" if r.kernel is None else f"{r.kernel}x{r.kernel}",
            "yes" if r.feasible else "no",
            str(r.cores),
            r.reasons[0] if r.reasons else "",
        )
    console.print(table)
    fits = [r for r in rows if r.feasible]
    if fits:
        best = max(fits, key=lambda r: (r.kernel is None, r.kernel or 0, r.width))
        k = "as built" if best.kernel is None else f"{best.kernel}x{best.kernel} kernels"
        console.print(f"fits {chip}: width {best.width} (built {c0}), {k}")
    else:
        console.print(
            f"no width or kernel size tried fits {chip}; binding rule at the smallest: "
            f"{rows[-1].reasons[0] if rows and rows[-1].reasons else 'n/a'}"
        )
