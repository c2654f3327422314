"""The typer application shared by every ``autosnn`` sub-command module.

Each command lives in its own module under ``autosnn/app/cli/`` and registers itself on :data:`app`;
``autosnn/app/cli/__init__.py`` imports them all. Domain errors (:class:`AutosnnError`) become one line
``error: ...`` on stderr and exit code 2 in the click group itself, so every command, nested
groups and typer's ``CliRunner`` included, behaves the same without a traceback.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from autosnn.core.errors import AutosnnError
from safeio import OutputError

# typer vendors click; its usage errors (bad choices, missing options) are this class.
UsageError: type[Exception] = typer.BadParameter.__mro__[1]


def _one_line(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def report_errors(fn: Callable[[], Any]) -> Any:
    """Call ``fn``; an :class:`AutosnnError`, a bad option (click's ``UsageError``: an unknown
    option or command, a value out of range) or an OS error on a path (name too long,
    permission, disk full) becomes one line ``error: <msg>`` on stderr, exit 2, never typer's
    usage box or a traceback. ``autosnn`` alone still prints the help."""
    try:
        return fn()
    except (AutosnnError, OutputError) as exc:
        _one_line(str(exc))
    except UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `autosnn` alone: click prints the help
            raise
        _one_line(exc.format_message())  # type: ignore[attr-defined]
    except OSError as exc:  # the environment (a path, the disk), not the code: one line too
        where = f"{exc.filename}: " if exc.filename else ""
        name = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
        _one_line(f"{where}{exc.strerror or exc} ({name})")


class ErrorReportingGroup(TyperGroup):
    """The ``autosnn`` group: errors in parsing the root options (``make_context``) and in
    resolving and running a sub-command (``invoke``) are reported by :func:`report_errors`."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        return report_errors(
            lambda: super(ErrorReportingGroup, self).make_context(*args, **kwargs))

    def invoke(self, ctx: Any) -> Any:  # click's Context (typer vendors click)
        return report_errors(lambda: super(ErrorReportingGroup, self).invoke(ctx))


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
    """Run the app (console-script entry point); under torchrun, the ranks leave together."""
    try:
        app(args=argv)
    except SystemExit as done:
        _leave_process_group(succeeded=done.code in (0, None))
        raise
    _leave_process_group(succeeded=True)


def _leave_process_group(*, succeeded: bool) -> None:
    """Under torchrun, end the process group on every rank together (see ``finish``).

    Looked up in ``sys.modules`` so that commands that never train (``--help``, ``export``)
    do not import torch just to learn there is no group.
    """
    distributed = sys.modules.get("autosnn.train.distributed")
    if distributed is not None:
        distributed.finish(succeeded=succeeded)
