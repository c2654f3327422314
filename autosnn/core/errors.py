"""User-facing errors.

Library code raises :class:`AutosnnError` (or a subclass) for bad input: a missing file, a malformed
genotype, an unsupported shape. The CLI turns it into one line on stderr and exit code 2, so users see
what was wrong and where, never a traceback. Programming errors stay ordinary exceptions.
"""

from __future__ import annotations


class AutosnnError(Exception):
    """Bad input from the user: the message alone must say what, where and what was expected."""


class DataError(AutosnnError):
    """A dataset is missing or malformed (names the file and the expected layout)."""


class CheckpointError(AutosnnError):
    """A checkpoint is missing, malformed or unsafe to load."""
