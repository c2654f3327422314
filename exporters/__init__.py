"""Exporters of autosnn networks, looked up by name: ``nir``, ``onnx``, ``lava``.

>>> from exporters import get_exporter
>>> get_exporter("nir").export(net, "net.nir", compat="norse")

Each exporter is an :class:`Exporter` (name, default file suffix, option names, and a function
``export(net, path, **options) -> Path``); ``register_exporter`` adds one. Anything a target cannot
express raises :class:`ExportError` naming the layer and the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exporters.base import ExportError

__all__ = [
    "ExportError",
    "Exporter",
    "export",
    "get_exporter",
    "list_exporters",
    "register_exporter",
]


@dataclass(frozen=True)
class Exporter:
    """A named export target."""

    name: str
    suffix: str
    options: tuple[str, ...]
    export: Callable[..., Path]
    description: str = ""


_REGISTRY: dict[str, Exporter] = {}


def register_exporter(exporter: Exporter) -> Exporter:
    """Add an exporter to the registry (the CLI's ``--to`` choices come from here)."""
    _REGISTRY[exporter.name] = exporter
    return exporter


def list_exporters() -> list[str]:
    """Registered exporter names."""
    return list(_REGISTRY)


def get_exporter(name: str) -> Exporter:
    """Look up an exporter; unknown names list the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ExportError(
            f"unknown export target {name!r}; known: {', '.join(_REGISTRY)}"
        ) from None


def export(net: Any, target: str, path: str | Path, **options: Any) -> Path:
    """Export ``net`` to ``target`` at ``path``; options not used by the target are an error."""
    exp = get_exporter(target)
    bad = [k for k, v in options.items() if k not in exp.options and v is not None]
    if bad:
        raise ExportError(
            f"option(s) {', '.join(bad)} do not apply to --to {target}; "
            f"it accepts: {', '.join(exp.options) or 'none'}"
        )
    return exp.export(net, path, **{k: v for k, v in options.items() if v is not None})


def _nir(net: Any, path: str | Path, **kw: Any) -> Path:
    from exporters.nir_export import export_nir

    return export_nir(net, path, **kw)


def _onnx(net: Any, path: str | Path, **kw: Any) -> Path:
    from exporters.onnx_export import export_onnx

    return export_onnx(net, path, **kw)


def _lava(net: Any, path: str | Path, **kw: Any) -> Path:
    from exporters.lava_export import export_netx

    return export_netx(net, path, **kw)


register_exporter(Exporter("nir", ".nir", ("compat", "dt", "geq_threshold"), _nir,
                           "NIR 1.0 graph (HDF5), BN folded, PLIF as LIF, forward Euler dt"))
register_exporter(Exporter("onnx", ".onnx", (), _onnx,
                           "single-timestep ONNX graph (x_t, v...) -> (votes_t, v...)"))
register_exporter(Exporter("lava", ".h5", (), _lava,
                           "lava-dl netx HDF5 for Loihi 2 (8-bit weights, fixed-point CUBA)"))
