"""Seeded mutations of valid files for the hostile corpus (``tests/test_hostile_corpus.py``).

Every function takes a ``random.Random`` and returns ``(what was done, new value)``; the corpus
seeds one generator per case (``Random("kind-index")``), so case N of a kind is the same file on
every run and an expected failure (``xfail(strict=True)``) stays attached to the same case.

Two families: byte-level damage that any file can suffer (bit flips, truncation, inserted or
zeroed runs, appended garbage) and structural edits a user or a broken tool makes to the parsed
content (a field deleted, a value of another type, NaN/inf, huge or negative numbers, unknown
keys, wrong shapes), written back in the file's own format.
"""

from __future__ import annotations

import copy
import math
import random
from typing import Any

# Values that are wrong for almost every field somewhere: other types, non-finite, huge,
# negative, empty. 10**400 is a valid JSON/YAML integer that no float can hold.
HOSTILE: tuple[Any, ...] = (
    None, True, False, 0, -1, -5, 1, 2**31, 2**70, -(2**70), 10**400, 0.5, -0.5, 1e308, -1e308,
    1e-320, math.nan, math.inf, -math.inf, "", "x", "bogus", "1e9", "NaN", [], [1, 2],
    [[None]], {}, {"a": 1}, {"": None},
)


def byte_damage(rng: random.Random, raw: bytes) -> tuple[str, bytes]:
    """One kind of damage a file suffers on disk or in transit."""
    n = len(raw)
    op = rng.choice(["bitflip", "bitflips", "truncate", "insert", "zero-run", "append", "empty",
                     "head"])
    if op in ("bitflip", "bitflips") and n:
        b = bytearray(raw)
        flips = 1 if op == "bitflip" else rng.randint(2, 16)
        for _ in range(flips):
            b[rng.randrange(n)] ^= 1 << rng.randrange(8)
        return f"{op} x{flips}", bytes(b)
    if op == "truncate" and n > 1:
        cut = rng.randrange(1, n)
        return f"truncate at {cut}/{n}", raw[:cut]
    if op == "insert":
        at = rng.randrange(n + 1)
        junk = rng.randbytes(rng.randint(1, 64))
        return f"insert {len(junk)} bytes at {at}", raw[:at] + junk + raw[at:]
    if op == "zero-run" and n:
        at = rng.randrange(n)
        run = rng.randint(1, 256)
        return f"zero {run} bytes at {at}", raw[:at] + bytes(min(run, n - at)) + raw[at + run:]
    if op == "append":
        return "append garbage", raw + rng.randbytes(rng.randint(1, 64))
    if op == "head" and n > 8:
        return "first 8 bytes only", raw[:8]
    return "empty file", b""


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every node of a JSON-like tree (dicts and lists), as key paths; the root is ``()``."""
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _get(doc: Any, path: tuple) -> Any:
    for k in path:
        doc = doc[k]
    return doc


def doc_edit(rng: random.Random, doc: Any, prefer: tuple[tuple, ...] = ()) -> tuple[str, Any]:
    """One structural edit of a parsed document (a deep copy is edited).

    ``prefer``: key paths (prefixes) to aim at half of the time, so the fields a reader
    actually uses are hit more often than the bulk of a large file."""
    doc = copy.deepcopy(doc)
    paths = _paths(doc)
    aimed = [p for p in paths if any(p[:len(q)] == q for q in prefer)]
    path = rng.choice(aimed if aimed and rng.random() < 0.5 else paths)
    target = _get(doc, path)
    ops = ["swap", "swap", "wrap", "stringify"]
    if path:
        ops += ["delete", "delete"]
    if isinstance(target, dict):
        ops += ["unknown-key", "unknown-key", "empty"]
    if isinstance(target, list):
        ops += ["empty", "grow", "shrink"]
    if isinstance(target, int | float) and not isinstance(target, bool):
        ops += ["scale", "scale", "negate", "nan"]
    op = rng.choice(ops)
    name = "/".join(map(str, path)) or "<root>"
    if op == "delete":
        parent = _get(doc, path[:-1])
        del parent[path[-1]]
        return f"delete {name}", doc
    if op == "unknown-key":
        key = rng.choice(["bogus", "x", "", "__class__", "extra_field", "0"])
        target[key] = rng.choice(HOSTILE)
        return f"unknown key {key!r} in {name}", doc
    if op == "empty":
        new: Any = type(target)()
    elif op == "grow":
        new = target + [copy.deepcopy(target[-1]) if target else None] * rng.randint(1, 3)
    elif op == "shrink":
        new = target[:-1]
    elif op == "scale":
        new = target * rng.choice([10**6, 10**30, 1e300, 0, -1])
    elif op == "negate":
        new = -target if target else -1
    elif op == "nan":
        new = rng.choice([math.nan, math.inf, -math.inf])
    elif op == "wrap":
        new = [target]
    elif op == "stringify":
        new = str(target)
    else:
        new = rng.choice(HOSTILE)
    if not path:
        return f"{op} root -> {_short(new)}", new
    _get(doc, path[:-1])[path[-1]] = new
    return f"{op} {name} -> {_short(new)}", doc


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
