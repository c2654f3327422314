"""SANA-FE as an optional extra: imported on first use only, and its console output kept off stdout.

SANA-FE is GPL-3.0 (`pip install 'autosnn[sanafe]'`). Only this package imports it, and only
inside functions, so the rest of hwsim (and autosnn) neither needs nor links it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from typing import Any

INSTALL_HINT = "pip install 'autosnn[sanafe]'"
SANAFE_LOIHI = "sanafe-loihi"  # arch name: SANA-FE's own Loihi file, as shipped with the package


class SanafeMissingError(RuntimeError):
    """SANA-FE is not installed; the message is the one line a user needs."""


def import_sanafe() -> Any:
    """Import SANA-FE on first use only (GPL-3.0 optional extra)."""
    try:
        import sanafe
    except ImportError:
        raise SanafeMissingError(
            f"the sanafe engine needs SANA-FE, an optional extra: {INSTALL_HINT}"
        ) from None
    return sanafe


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send what SANA-FE prints to stderr meanwhile: through Python's sys.stdout (pybind) and
    straight to file descriptor 1 (C++). Its progress line would otherwise corrupt --json."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
