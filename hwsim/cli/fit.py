"""``hwsim fit``: which widths and kernel sizes of a graph would fit a chip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hwsim.chip import load_chip
from hwsim.cli.common import app, fail, jsonable
from hwsim.errors import HwsimInputError
from hwsim.network import read_network


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
    from hwsim.fit import base_width, fit

    try:
        spec = load_chip(chip)
        network = read_network(net)
        wlist = None
        if widths is not None:
            try:
                wlist = sorted({int(w) for w in widths.split(",")}, reverse=True)
            except ValueError:
                raise HwsimInputError("--widths", widths, "comma-separated integers") from None
            if not wlist or min(wlist) < 1:
                raise HwsimInputError("--widths", widths, "positive integers")
        rows = fit(network, spec, widths=wlist)
        c0 = base_width(network)
    except HwsimInputError as exc:
        raise fail(str(exc)) from None
    except ValueError as exc:
        raise fail(f"{net}: {exc}") from None
    fits = [r for r in rows if r.feasible]
    if as_json:
        typer.echo(
            json.dumps(jsonable([vars(r) | {"reasons": list(r.reasons)} for r in rows]), indent=2)
        )
        return
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
    if fits:
        best = max(fits, key=lambda r: (r.kernel is None, r.kernel or 0, r.width))
        k = "as built" if best.kernel is None else f"{best.kernel}x{best.kernel} kernels"
        console.print(f"fits {spec.name}: width {best.width} (built {c0}), {k}")
    else:
        console.print(
            f"no width or kernel size tried fits {spec.name}; binding rule at the smallest: "
            f"{rows[-1].reasons[0] if rows and rows[-1].reasons else 'n/a'}"
        )
