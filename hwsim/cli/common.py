"""The typer application every ``hwsim`` command module registers on, and the helpers they share.

Each command group lives in its own module under ``hwsim/cli/``; ``hwsim/cli/__init__.py`` imports
them all in the order ``--help`` lists them. Bad input becomes one line ``error: ...`` on stderr
and exit code 2.
"""

from __future__ import annotations

import errno
import math
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any, NoReturn, cast

import typer
from typer.core import TyperGroup

from hwsim.errors import HwsimInputError
from safeio import OutputError

# click's usage errors (unknown option or command, bad value, missing argument), whether typer
# vendors click or depends on it: the base class of typer.BadParameter (typed as it, for
# format_message)
UsageError = cast("type[typer.BadParameter]", typer.BadParameter.__mro__[1])


def _one_line(message: str) -> NoReturn:
    """``error: <message>`` (newlines folded: one line whatever the message) and exit code 2."""
    typer.echo("error: " + " ".join(str(message).split()), err=True)
    raise typer.Exit(2)


def report_errors(fn: Callable[[], Any]) -> Any:
    """Call ``fn``; bad input (:class:`HwsimInputError`), an unusable output path
    (:class:`OutputError`), a bad option (click's ``UsageError``: an unknown option, a value
    of the wrong type or out of range, a missing argument, an unknown command), an OS error on
    a path, or a size that does not fit in memory becomes one line ``error: ...``, exit 2,
    instead of typer's 5-6 line usage box or a traceback. ``hwsim`` alone still prints help."""
    try:
        return fn()
    except (HwsimInputError, OutputError) as exc:
        _one_line(str(exc))
    except UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `hwsim` alone: click prints the help
            raise
        _one_line(exc.format_message())
    except OSError as exc:  # the environment (a path, the disk), not the code
        where = f"{exc.filename}: " if exc.filename else ""
        name = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
        _one_line(f"{where}{exc.strerror or exc} ({name})")
    except MemoryError:  # a backstop: sizes are bounded before allocating (hwsim.activity)
        _one_line("out of memory: the graph, its T or the chip is too large for this machine")


class OneLineErrorGroup(TyperGroup):
    """The ``hwsim`` group: errors in parsing the root options (``make_context``) and in
    resolving and running a command (``invoke``, which parses the command's own options) are
    reported by :func:`report_errors`."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        return report_errors(lambda: super(OneLineErrorGroup, self).make_context(*args, **kwargs))

    def invoke(self, ctx: Any) -> Any:
        return report_errors(lambda: super(OneLineErrorGroup, self).invoke(ctx))


app = typer.Typer(
    cls=OneLineErrorGroup,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Neuromorphic chip cost model for NIR graphs.",
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
