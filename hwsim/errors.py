"""One error type for every bad input, so the CLI can print one line and exit 2."""

from __future__ import annotations

from pathlib import Path


class HwsimInputError(ValueError):
    """A user-supplied file (NIR graph, chip profile, activity) is unusable.

    Carries the file, the offending field and what was expected, because a user fixing a YAML
    profile needs all three and nothing else (no traceback).
    """

    def __init__(self, file: str | Path, field: str, expected: str) -> None:
        self.file = str(file)
        self.field = field
        self.expected = expected
        super().__init__(f"{self.file}: {field}: {expected}")


def require_regular_file(path: str | Path) -> None:
    """Refuse an existing path that is not a regular file before opening it: reading a FIFO
    blocks until a writer appears (forever, from a user's point of view), a device may never
    end, and a folder fails with an unhelpful error. A missing path is left to the reader."""
    p = Path(path)
    if p.exists() and not p.is_file():
        raise HwsimInputError(p, "file", "a regular file (not a FIFO, device or folder)")
