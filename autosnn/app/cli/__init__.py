"""``autosnn`` command line: imports every command module so they register on the shared app."""

from __future__ import annotations

from autosnn.app.cli import data as _data  # noqa: F401  (autosnn data ...)
from autosnn.app.cli import experiment as _experiment  # noqa: F401  (autosnn experiment ...)
from autosnn.app.cli import export as _export  # noqa: F401  (autosnn export ...)
from autosnn.app.cli import nas as _nas  # noqa: F401  (supernet, search, train, eval)
from autosnn.app.cli import summary as _summary  # noqa: F401  (autosnn summary)
from autosnn.app.cli.app import app, run_cli

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    run_cli()
