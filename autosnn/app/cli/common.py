"""Option parsing helpers shared by CLI commands."""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import typer

from autosnn.core.checkpoint import MAX_INPUT_CHANNELS, MAX_SIDE
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
    if dims[0] > MAX_INPUT_CHANNELS or max(dims[1:]) > MAX_SIDE:
        raise AutosnnError(f"--input {text!r}: expected C <= {MAX_INPUT_CHANNELS} and H, W <= "
                           f"{MAX_SIDE}")
    return dims  # type: ignore[return-value]


def choices(kind: str, names: list[str]) -> type[StrEnum]:
    """A string enum of a registry's names, so typer shows and checks them as choices; the CLI's
    choices thereby come from the registries, never from hard-coded strings."""
    return StrEnum(kind, {n: n for n in names})  # type: ignore[return-value]


def finite_in(lo: float, hi: float, *, low_open: bool = False) -> Callable[[float | None],
                                                                           float | None]:
    """A typer callback accepting a finite float in ``[lo, hi]`` (``(lo, hi]`` with
    ``low_open``): click's FloatRange lets ``nan`` through (every comparison with it is False)
    and ``inf`` past an open bound, and either one poisons a run minutes later."""

    def check(value: float | None) -> float | None:
        if value is None:
            return None
        if not math.isfinite(value) or value > hi or value < lo or (low_open and value == lo):
            if math.isinf(hi):
                want = f"{'>' if low_open else '>='} {lo:g}"
            else:
                want = f"in {'(' if low_open else '['}{lo:g}, {hi:g}]"
            raise typer.BadParameter(f"{value}: expected a finite number {want}")
        return value

    return check


def even_channels(value: int | None) -> int | None:
    """A typer callback: the networks split C into halves (skip/reduction paths), so C must be
    even; refused here rather than after the data set is loaded."""
    if value is not None and value % 2:
        raise typer.BadParameter(f"{value}: expected an even number of channels")
    return value


MAX_SEED = 2**32 - 1  # numpy's seed range; torch and random accept it too
# Upper bounds of the commands' counts: generous limits against typos, not tuning advice.
MAX_EPOCHS = 100_000
MAX_BATCH = 65_536
MAX_LIMIT = 10**9
MAX_POOL = 10_000
SEED_HELP = "Seed (split, init, sampling, search), 0-2^32-1."


def seed_option(help: str = SEED_HELP) -> Any:
    """``--seed`` for every command: an integer in 0..2^32-1 (numpy refuses others minutes in)."""
    return typer.Option("--seed", min=0, max=MAX_SEED, help=help)
