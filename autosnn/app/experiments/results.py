"""The record a finished sub-run of an experiment leaves (``experiment-result.json``), read
back as untrusted: every kind's fields type- and range-checked, one line naming the file and the
field on anything damaged or hand-edited, never a KeyError or a NaN printed into a table."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

from autosnn.core.checkpoint import MAX_CHANNELS, MAX_TIMESTEPS
from autosnn.core.errors import AutosnnError
from autosnn.core.spaces import get_space

# What each kind of sub-run records in its result (what the tables read back when it is
# reused): field -> (check, what is expected). A hand-edited or damaged record is one line
# naming the file and the field, never a KeyError or a NaN printed into a table.
_Check = Callable[[object], bool]


def _num(lo: float, hi: float = math.inf, none: bool = False) -> _Check:
    def ok(v: object) -> bool:
        if v is None:
            return none
        if isinstance(v, bool) or not isinstance(v, int | float):
            return False
        try:  # an integer beyond any float (JSON allows 10**400) is no usable number either
            x = float(v)
        except OverflowError:
            return False
        return math.isfinite(x) and lo <= x <= hi
    return ok


def _int_in(lo: int, hi: int) -> _Check:
    def ok(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi
    return ok


_count = _int_in(0, 2**53)


def _text(v: object) -> bool:
    return isinstance(v, str) and bool(v)


def _numbers(v: object) -> bool:
    return isinstance(v, dict) and all(_num(0.0)(x) for x in v.values())


_WINNER: dict[str, tuple[_Check, str]] = {
    "space": (_text, "a space name"), "genotype": (_text, "a genotype"),
    "channels": (_int_in(1, MAX_CHANNELS), f"an integer in [1, {MAX_CHANNELS}]"),
    "timesteps": (_int_in(1, MAX_TIMESTEPS), f"an integer in [1, {MAX_TIMESTEPS}]"),
    "accuracy": (_num(0.0, 1.0), "a fraction in [0, 1]"),
    "spikes": (_num(0.0), "a finite count >= 0"),
}
_CANDIDATE = {k: _WINNER[k] for k in ("genotype", "accuracy", "spikes")}
_RESULT: dict[str, dict[str, tuple[_Check, str]]] = {
    "train": {"accuracy": (_num(0.0, 1.0), "a fraction in [0, 1]"),
              "spikes": (_num(0.0), "a finite count >= 0"),
              "samples": (_count, "a count >= 0"),
              "params": (_num(0.0, none=True), "a finite number >= 0 or null")},
    "firing-rate": {"firing_rate": (_num(0.0, none=True), "a finite rate >= 0 or null"),
                    "per_layer": (_numbers, "an object of finite rates >= 0")},
    "supernet": {"checkpoint": (_text, "the super-network's path"),
                 "spikes_avg": (_num(0.0), "a finite count >= 0")},
    "search": {"winners": (lambda v: isinstance(v, dict), "an object of winners per lambda"),
               "evaluated": (_count, "a count >= 0"),
               "candidates": (lambda v: isinstance(v, list), "a list of candidates")},
}


def _check_fields(path: Path, where: str, d: object, schema: dict[str, tuple[_Check, str]]) -> None:
    if not isinstance(d, dict):
        raise AutosnnError(f"{path}: field {where}: expected an object, got {type(d).__name__}")
    for key, (ok, expected) in schema.items():
        if key not in d:
            raise AutosnnError(f"{path}: field {where}.{key}: missing; expected {expected}")
        if not ok(d[key]):
            raise AutosnnError(f"{path}: field {where}.{key}: expected {expected}, got "
                               f"{d[key]!r}"[:300])


def read_result(path: Path, kind: str) -> tuple[dict, float]:
    """The ``result`` and ``seconds`` a finished sub-run of ``kind`` recorded in ``path``,
    validated as untrusted (the file may have been edited or damaged since): one
    :class:`AutosnnError` line naming the file and the field, with what to do about it."""
    hint = "; delete the sub-run's folder to rerun it"
    try:
        if not path.is_file():
            raise AutosnnError(f"{path}: not a regular file{hint}")
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: bad JSON or UTF-8
        raise AutosnnError(f"{path}: unreadable sub-run result ({type(exc).__name__}: "
                           f"{str(exc).strip()[:120]}){hint}") from None
    try:
        if not isinstance(doc, dict):
            raise AutosnnError(f"{path}: expected a JSON object, got {type(doc).__name__}")
        seconds = doc.get("seconds")
        if not _num(0.0)(seconds):
            raise AutosnnError(f"{path}: field seconds: expected a finite number >= 0, got "
                               f"{seconds!r}"[:300])
        result = doc.get("result")
        _check_fields(path, "result", result, _RESULT.get(kind, {}))
        assert isinstance(result, dict)
        if kind == "search":
            for key, w in result["winners"].items():
                _check_fields(path, f"result.winners.{key}", w, _WINNER)
                try:  # the tables retrain it: an unknown space or block is said here
                    get_space(w["space"]).parse(w["genotype"])
                except AutosnnError as exc:
                    raise AutosnnError(f"{path}: field result.winners.{key}: {exc}") from None
            for i, c in enumerate(result["candidates"]):
                _check_fields(path, f"result.candidates[{i}]", c, _CANDIDATE)
    except AutosnnError as exc:
        raise AutosnnError(f"{exc}{hint}") from None
    return result, float(seconds)  # type: ignore[arg-type]
