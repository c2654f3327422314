"""Every output file goes through here: one writer, one path policy, one lock per output folder.

A bottom-layer package (standard library only) so that autosnn, the exporters and hwsim, which
may not import one another freely, all write files the same way: a uniquely named temp file in
the target's folder with the permissions a plain ``open`` would give (the user's umask), flushed
and fsynced, then renamed over the target (``os.replace`` is atomic on POSIX). A crash, a full
disk or a second writer never leaves a half-written or mixed file, the earlier file survives any
failure, and an output path that is one of the command's inputs, a folder, a FIFO or a device is
refused before anything is written."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

LOCK_FILE = ".autosnn.lock"


class OutputError(ValueError):
    """An output cannot be written where asked: the message names the path and the reason."""
# The temp names our writers use: ``.<target name>.<8 random chars from mkstemp>.tmp[<suffix>]``.
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp(\.[^/]*)?$")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _mkstemp(path: Path, suffix: str) -> tuple[int, str]:
    """A uniquely named temp file beside ``path`` with the permissions a plain ``open`` would
    give (mkstemp makes 0600 files, which would silently hide results from other users)."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    except OSError as exc:
        raise _write_error(path, exc) from None
    os.fchmod(fd, 0o666 & ~_umask())
    return fd, tmp


def _mode(path: Path) -> int | None:
    """``st_mode`` of ``path`` (None when it does not exist); an unusable name (too long, a
    file used as a folder, no permission) is one line, not an OSError from ``exists()``."""
    try:
        return os.stat(path).st_mode
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise OutputError(f"{path}: a parent of this path is a file, not a folder") from None
    except OSError as exc:
        raise OutputError(f"{path}: unusable path ({exc.strerror or exc})") from None


def _regular_target(path: str | Path) -> Path:
    """Renaming over ``/dev/null``, a FIFO or a folder would replace it (root may): only a
    regular file, or nothing yet, may be the target."""
    path = Path(path)
    mode = _mode(path)
    if mode is not None and not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise OutputError(f"{path}: is {kind}; expected a file name to write")
    return path


def _write_error(path: Path, exc: OSError) -> OutputError:
    """One line naming the output and the OS's reason (disk full, read-only, no folder)."""
    why = exc.strerror or str(exc)
    if exc.errno == errno.ENOENT and not path.parent.is_dir():
        why = f"folder {path.parent} does not exist"
    elif exc.errno == errno.ENOTDIR:
        why = f"{path.parent} is not a folder"
    return OutputError(f"{path}: cannot write ({why}); the earlier file, if any, is unchanged")


@contextmanager
def _replacing(path: str | Path, suffix: str) -> Iterator[tuple[int, str]]:
    """Yield ``(fd, temp name)`` of a new temp file in ``path``'s folder; on a clean exit the
    temp file replaces ``path``. Any failure removes the temp file and leaves ``path`` as it
    was; an OS failure (disk full, read-only folder) becomes one line naming ``path``."""
    target = _regular_target(path)
    fd, tmp = _mkstemp(target, suffix)
    try:
        yield fd, tmp
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _write_error(target, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_write(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """``with atomic_write(p) as f: f.write(...)``: ``p`` appears complete or not at all.

    An OS failure (disk full, read-only folder) becomes one :class:`OutputError` line naming
    ``p``; the earlier ``p`` is left as it was and the temp file is removed."""
    with _replacing(path, ".tmp") as (fd, _), os.fdopen(fd, mode) as f:
        yield f
        f.flush()
        os.fsync(f.fileno())


@contextmanager
def atomic_path(path: str | Path, *, inputs: Iterable[str | Path | None] = ()) -> Iterator[Path]:
    """``with atomic_path(p) as tmp: writer(tmp)``, for writers that want a file name (h5py,
    onnx, numpy, matplotlib): ``tmp`` is a temp file in ``p``'s folder that replaces ``p`` when the
    block ends cleanly. ``p`` equal to one of ``inputs`` is refused before anything is written."""
    refuse_overwriting_inputs([path], inputs)
    with _replacing(path, ".tmp" + Path(path).suffix) as (fd, tmp):
        os.close(fd)
        yield Path(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())


def atomic_save(path: str | Path, save: Callable[[str], object]) -> None:
    """``save(tmp_name)`` writes a temp file in the target's folder, which then replaces ``path``."""
    with atomic_path(path) as tmp:
        save(str(tmp))


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
    """One-line error when an output would replace one of the inputs (symlinks resolved)."""
    ins = {Path(p).resolve(): p for p in inputs if p is not None}
    for out in outputs:
        if out is not None and Path(out).resolve() in ins:
            raise OutputError(f"{out}: output path is also an input (it would overwrite the input "
                              f"{ins[Path(out).resolve()]}); choose another output path")


def check_output_file(path: str | Path) -> Path:
    """Before any long computation: ``path`` can be written (its folder exists, is a folder and
    is writable; ``path`` is not a folder). One-line error otherwise."""
    path = _regular_target(path)
    parent = path.parent
    mode = _mode(parent)
    if mode is None:
        raise OutputError(f"{path}: folder {parent} does not exist; create it first")
    if not stat.S_ISDIR(mode):
        raise OutputError(f"{path}: {parent} is a file, not a folder")
    _probe(parent, path)
    return path


def check_outputs(outputs: Iterable[str | Path | None], inputs: Iterable[str | Path | None] = (),
                  *, create_folders: bool = False) -> None:
    """The path policy of every command, applied before any work starts: no output is one of
    the inputs (nor another output), each is absent or a regular file (never a folder, FIFO or
    device), and its folder exists (created first when ``create_folders``) and is writable."""
    given = [Path(p) for p in outputs if p is not None]
    refuse_overwriting_inputs(given, inputs)
    seen: dict[Path, Path] = {}
    for out in given:
        if out.resolve() in seen:
            raise OutputError(f"{out}: given as two outputs ({seen[out.resolve()]}); choose "
                              "another path for one of them")
        seen[out.resolve()] = out
        if create_folders and _mode(out.parent) is None:
            prepare_out_dir(out.parent)
        check_output_file(out)


def prepare_out_dir(folder: str | Path) -> Path:
    """Create the output folder ``folder`` (and its parents) and check that it is writable,
    before any long computation. A file where a folder should be, a read-only location or a
    full disk is one line naming the folder."""
    folder = Path(folder)
    mode = _mode(folder)
    if mode is not None and not stat.S_ISDIR(mode):
        raise OutputError(f"{folder}: is a file; --out must be a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{folder}: a file is in the way of this folder") from None
    except NotADirectoryError:
        raise OutputError(f"{folder}: a parent of this folder is a file") from None
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create the output folder "
                           f"({exc.strerror or exc})") from None
    _probe(folder, folder)
    return folder


def _probe(folder: Path, named: Path) -> None:
    """Create and remove a temp file in ``folder``: the only reliable writability test (root
    ignores mode bits, read-only mounts and full disks only show on write)."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".autosnn-probe.", dir=folder)
        try:
            os.write(fd, b"x")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(tmp)
    except OSError as exc:
        raise OutputError(f"{named}: cannot write in {folder} ({exc.strerror or exc})") from None


def clean_stale_temps(folder: str | Path) -> list[Path]:
    """Remove the temp files a killed run left in ``folder`` (only names our writers make).
    Call it only while holding the folder's :func:`out_lock`: a live writer's temp file is
    otherwise indistinguishable from a stale one."""
    removed: list[Path] = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for p in folder.iterdir():
        if p.is_file() and _TEMP_NAME.match(p.name):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


@contextmanager
def out_lock(folder: str | Path, command: str = "autosnn") -> Iterator[Path]:
    """One writer per output folder: an exclusive ``flock`` on ``folder/.autosnn.lock``, held
    for the ``with`` block. The OS drops it when the process dies (kill -9 included), so a
    crashed run never blocks the next one; a second live run gets a one-line error at once."""
    folder = prepare_out_dir(folder)
    lock = folder / LOCK_FILE
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise OutputError(f"{lock}: cannot open the lock file ({exc.strerror or exc})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise OutputError(
                f"{folder}: another run is writing to this folder ({holder}); wait for it to "
                "finish or choose another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{command} pid {os.getpid()}\n".encode(), 0)
        yield folder
    finally:
        os.close(fd)  # releases the lock
