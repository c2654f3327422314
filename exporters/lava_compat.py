"""Make lava-nc 0.10 / lava-dl 0.6 importable on Python 3.11 without editing installed files.

Call :func:`install` before the first ``import lava``. It registers an import hook that rewrites
two module sources as they load, and stubs one sub-package:

1. ``lava.magma.compiler.var_model``: dataclass fields default to a mutable ``ByteEncoder()``,
   which Python 3.11 rejects -> ``field(default_factory=ByteEncoder)``.
2. ``lava.magma.runtime.message_infrastructure.multiprocessing`` calls
   ``mp.set_start_method('fork')`` at import, failing if anything set it before -> ``force=True``.
3. ``lava.lib.dl.slayer`` imports ``object_detection``, which needs a working torchvision -> an
   empty module is registered under that name (we never use it).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types

_PATCHES: dict[str, list[tuple[str, str]]] = {
    "lava.magma.compiler.var_model": [
        ("from dataclasses import dataclass, InitVar",
         "from dataclasses import dataclass, InitVar, field"),
        (": ByteEncoder = ByteEncoder()", ": ByteEncoder = field(default_factory=ByteEncoder)"),
    ],
    "lava.magma.runtime.message_infrastructure.multiprocessing": [
        ("mp.set_start_method('fork')", "mp.set_start_method('fork', force=True)"),
    ],
}
_STUBS = ("lava.lib.dl.slayer.object_detection",)


class _PatchingLoader(importlib.machinery.SourceFileLoader):
    def get_data(self, path):
        data = super().get_data(path)
        if not str(path).endswith(".py"):
            return data
        text = data.decode("utf-8")
        for old, new in _PATCHES.get(self.name, []):
            text = text.replace(old, new)
        return text.encode("utf-8")

    def get_code(self, fullname):  # bypass the cached bytecode of the unpatched source
        source = self.get_data(self.get_filename(fullname))
        return compile(source, self.get_filename(fullname), "exec", dont_inherit=True)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname not in _PATCHES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.origin and spec.origin.endswith(".py"):
                spec.loader = _PatchingLoader(fullname, spec.origin)
                return spec
        return None


_installed = False


def install() -> None:
    """Install the hook and stubs (idempotent). Must run before lava is imported."""
    global _installed
    if _installed:
        return
    if any(name in sys.modules for name in _PATCHES):
        raise RuntimeError("lava was imported before exporters.lava_compat.install()")
    sys.meta_path.insert(0, _Finder())
    for name in _STUBS:
        sys.modules.setdefault(name, types.ModuleType(name))
    _installed = True


def lava_available() -> bool:
    """Whether lava-nc and lava-dl are installed (does not import them)."""
    return (importlib.util.find_spec("lava") is not None
            and importlib.util.find_spec("lava.lib") is not None)
