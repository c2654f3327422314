"""The typer application shared by every ``autosnn`` sub-command module.

Each command lives in its own module under ``autosnn/app/cli/`` and registers itself on :data:`app`;
``autosnn/app/cli/__init__.py`` imports them all. Domain errors (:class:`AutosnnError`) become one line
``error: ...`` on stderr and exit code 2 in the click group itself, so every command, nested
groups and typer's ``CliRunner`` included, behaves the same without a traceback.
"""

from __future__ import annotations

import errno
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from autosnn.core.errors import AutosnnError
from safeio import OutputError

# typer vendors click; its usage errors (bad choices, missing options) are this class.
UsageError: type[Exception] = typer.BadParameter.__mro__[1]


def report_errors(ctx: typer.Context, fn, *args):
    """Call ``fn``; an :class:`AutosnnError`, a bad option value (click's ``UsageError``, of
    which ``typer.BadParameter`` is one) or an OS error on a path (name too long, permission,
    disk full) becomes one line ``error: <msg>`` on stderr, exit 2."""
    try:
        return fn(*args)
    except (AutosnnError, OutputError) as exc:
        typer.echo(f"error: {exc}", err=True)
        ctx.exit(2)
    except UsageError as exc:
        typer.echo(f"error: {exc.format_message()}", err=True)  # type: ignore[attr-defined]
        ctx.exit(2)
    except OSError as exc:  # the environment (a path, the disk), not the code: one line too
        where = f"{exc.filename}: " if exc.filename else ""
        name = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
        typer.echo(f"error: {where}{exc.strerror or exc} ({name})", err=True)
        ctx.exit(2)


class ErrorReportingGroup(TyperGroup):
    """A typer group whose sub-commands report :class:`AutosnnError` as one line, exit code 2."""

    def invoke(self, ctx: Any) -> Any:  # click's Context (typer vendors click)
        return report_errors(ctx, super().invoke, ctx)


app = typer.Typer(
    name="autosnn",
    cls=ErrorReportingGroup,
    help="Spike-aware neural architecture search for spiking neural networks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("autosnn")
        except PackageNotFoundError:  # running from a source tree that was never installed
            from autosnn import __version__ as v
        typer.echo(f"autosnn {v}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Spike-aware neural architecture search for spiking neural networks."""


def run_cli(argv: list[str] | None = None) -> None:
    """Run the app (console-script entry point)."""
    app(args=argv)
