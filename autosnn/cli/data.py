"""autosnn CLI commands: data (to be filled in)."""

from autosnn.cli.app import app  # noqa: F401

