"""Import sinabs's Speck backend (``sinabs.backend.dynapcnn``) where no real ``samna`` is installed.

sinabs 3.1.3 imports ``samna`` (SynSense's device library) at module level in every file of its
DYNAP-CNN backend, although building a ``DynapcnnNetwork``, discretising it, ``memory_summary()``
and the core mapping (``map_layers_to_cores``) never call into it: only ``make_config`` and the
device I/O do. The ``samna`` wheel on the public index is a stub whose ``__init__`` runs
``pip install`` against SynSense's own index at import time (unreachable offline, and a side
effect no import should have), so we never import it.

:func:`install` therefore does one of two things before sinabs is imported:

- a real samna is importable (its ``__init__`` is not the index stub): nothing, sinabs uses it and
  :func:`real_samna` is True (``make_config`` can run);
- otherwise: registers an inert placeholder package for ``samna`` / ``samnagui`` whose attributes
  resolve (sinabs's module-level annotations and ``from samna.x import Y`` succeed) and whose
  objects raise :class:`SamnaUnavailable` when called, so a code path that really needs samna fails
  with one clear line instead of a traceback deep in sinabs.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from typing import Any

_ROOTS = ("samna", "samnagui")
# The index stub marks itself with this line (samna 0.48.x on PyPI); the real package does not.
_STUB_MARK = "PYPI_SAMNA = True"
NO_SAMNA = ("samna not installed (the package on the public index is a stub that downloads the "
            "real one at import): no make_config chip configuration written")


class SamnaUnavailable(RuntimeError):
    """A placeholder samna object was used: the real samna is needed for this step."""


class _Placeholder:
    """Any attribute of the placeholder package: more placeholders; calling one raises."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> _Placeholder:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Placeholder(f"{self._name}.{attr}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise SamnaUnavailable(f"{self._name}() needs the real samna: {NO_SAMNA}")

    def __repr__(self) -> str:
        return f"<samna placeholder {self._name}>"


class _PlaceholderModule(types.ModuleType):
    """A module of the placeholder package (a package, so ``samna.a.b`` imports resolve)."""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Placeholder(f"{self.__name__}.{attr}")


class _PlaceholderFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves ``samna``, ``samnagui`` and their sub-modules as placeholder modules."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname.split(".")[0] not in _ROOTS:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        mod = _PlaceholderModule(spec.name)
        mod.__path__ = []
        mod.__dict__["AUTOSNN_PLACEHOLDER"] = True
        return mod

    def exec_module(self, module: types.ModuleType) -> None:
        return None


_state: dict[str, bool] = {}


def _real_samna_on_path() -> bool:
    """A samna whose ``__init__`` is not the index stub is importable (checked without importing
    it: importing the stub would run pip)."""
    spec = importlib.util.find_spec("samna") if "samna" not in sys.modules else None
    if "samna" in sys.modules:
        return not getattr(sys.modules["samna"], "AUTOSNN_PLACEHOLDER", False)
    if spec is None or spec.origin is None:
        return False
    try:
        with open(spec.origin, encoding="utf-8", errors="replace") as f:
            head = f.read(20000)
    except OSError:
        return True  # a compiled extension: the real thing
    return _STUB_MARK not in head and "install_real_samna" not in head


def install() -> bool:
    """Make ``import sinabs.backend.dynapcnn`` work; returns whether a real samna is in use."""
    if "real" not in _state:
        real = _real_samna_on_path()
        if not real and not any(isinstance(f, _PlaceholderFinder) for f in sys.meta_path):
            sys.meta_path.insert(0, _PlaceholderFinder())
        _state["real"] = real
    return _state["real"]


def real_samna() -> bool:
    """Whether a real samna backs sinabs (``make_config`` can run)."""
    return install()


def sinabs_available() -> bool:
    """sinabs is installed and its Speck backend imports (with the placeholder if needed)."""
    try:
        if importlib.util.find_spec("sinabs") is None:
            return False
    except (ImportError, ValueError):  # hidden or half-installed
        return False
    install()
    try:
        import sinabs.backend.dynapcnn  # noqa: F401
    except Exception:  # pragma: no cover - depends on the installed sinabs
        return False
    return True
