"""The typer application shared by every ``autosnn`` sub-command module.

Each command lives in its own module under ``autosnn/cli/`` and registers itself on :data:`app`;
``autosnn/cli/__init__.py`` imports them all. Domain errors are turned into one line + exit code 2
by :func:`run_cli`, only here at the boundary.
"""

from __future__ import annotations

import sys

import typer

from autosnn.errors import AutosnnError

app = typer.Typer(
    name="autosnn",
    help="Spike-aware neural architecture search for spiking neural networks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def run_cli(argv: list[str] | None = None) -> None:
    """Run the app; an :class:`AutosnnError` becomes ``error: <message>`` and exit code 2."""
    try:
        app(args=argv, standalone_mode=False)
    except AutosnnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            raise SystemExit(exc.exit_code) from None
        if isinstance(exc, click.exceptions.Abort):
            raise SystemExit(130) from None
        raise
