"""``autosnn`` command line: imports every command module so they register on the shared app."""

from __future__ import annotations

from autosnn.cli import data as _data  # noqa: F401  (autosnn data ...)
from autosnn.cli import export as _export  # noqa: F401  (autosnn export ...)
from autosnn.cli import nas as _nas  # noqa: F401  (supernet, search, train, eval)
from autosnn.cli import summary as _summary  # noqa: F401  (autosnn summary)
from autosnn.cli.app import app, run_cli

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    run_cli()
