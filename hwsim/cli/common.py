"""The typer application every ``hwsim`` command module registers on, and the helpers they share.

Each command group lives in its own module under ``hwsim/cli/``; ``hwsim/cli/__init__.py`` imports
them all in the order ``--help`` lists them. Bad input becomes one line ``error: ...`` on stderr
and exit code 2.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Any

import typer

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Neuromorphic chip cost model for NIR graphs."
)


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("autosnn")  # hwsim ships in the autosnn distribution
        except PackageNotFoundError:
            v = "unknown (not installed)"
        typer.echo(f"hwsim {v}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Neuromorphic chip cost model for NIR graphs."""


class Placement(StrEnum):
    sequential = "sequential"
    greedy = "greedy"
    locality = "locality"
    spread = "spread"


class Engine(StrEnum):
    analytic = "analytic"
    sanafe = "sanafe"


def fail(message: str) -> typer.Exit:
    """Print ``error: <message>`` on stderr; the caller raises the returned exit (code 2)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def jsonable(value: Any) -> Any:
    """Strict JSON: non-finite floats become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def fmt(v: float | None, unit: str) -> str:
    """A figure with its unit, or ``n/a`` where the model has none (an infeasible mapping)."""
    return "n/a" if v is None else f"{v:.4g} {unit}".strip()
