"""One writer for every output file: a uniquely named temp file in the target's folder, flushed
and fsynced, then renamed over the target (``os.replace`` is atomic on POSIX), so a crash, a full
disk or a second writer never leaves a half-written or mixed file, and the earlier file survives
any failure. An output path that is one of the command's inputs is refused."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from autosnn.core.errors import AutosnnError


@contextmanager
def atomic_write(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """``with atomic_write(p) as f: f.write(...)``: ``p`` appears complete or not at all."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_save(path: str | Path, save: Callable[[str], object]) -> None:
    """For writers that want a file name (matplotlib, numpy, h5py): ``save(tmp_name)`` writes a
    temp file in the target's folder, which then replaces ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix,
                               dir=path.parent)
    os.close(fd)
    try:
        save(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, obj: object) -> None:
    """Write JSON atomically."""
    text = json.dumps(obj, indent=2, allow_nan=False) + "\n"
    with atomic_write(path) as f:
        f.write(text)


def write_text(path: str | Path, text: str) -> None:
    """Write text atomically."""
    with atomic_write(path) as f:
        f.write(text)


def refuse_overwriting_inputs(outputs: Iterable[str | Path | None],
                              inputs: Iterable[str | Path | None]) -> None:
    """One-line error when an output would replace one of the inputs."""
    ins = {Path(p).resolve() for p in inputs if p is not None}
    for out in outputs:
        if out is not None and Path(out).resolve() in ins:
            raise AutosnnError(f"{out}: output path is also an input; choose another output path")
