"""Option parsing helpers shared by CLI commands."""

from __future__ import annotations

from enum import StrEnum

from autosnn.core.errors import AutosnnError


def parse_shape(text: str) -> tuple[int, int, int]:
    """``3x32x32`` -> (3, 32, 32), with a clear error otherwise."""
    parts = text.lower().replace(",", "x").split("x")
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        dims = ()
    if len(dims) != 3 or min(dims) < 1:
        raise AutosnnError(f"--input {text!r}: expected CxHxW, e.g. 3x32x32")
    return dims  # type: ignore[return-value]


def choices(kind: str, names: list[str]) -> type[StrEnum]:
    """A string enum of a registry's names, so typer shows and checks them as choices; the CLI's
    choices thereby come from the registries, never from hard-coded strings."""
    return StrEnum(kind, {n: n for n in names})  # type: ignore[return-value]
