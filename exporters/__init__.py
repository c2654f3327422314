"""Exporters of autosnn networks, looked up by name: ``nir``, ``onnx``, ``lava``.

>>> from exporters import get_exporter
>>> get_exporter("nir").export(net, "net.nir", compat="norse")

Each exporter is an :class:`Exporter` (name, default file suffix, option names, and a function
``export(net, path, **options) -> Path``, and a ``verify`` that runs the written file in its
consumer); ``register_exporter`` adds one. Anything a target cannot
express raises :class:`ExportError` naming the layer and the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autosnn.core.registry import Registry
from exporters.base import ExportError

__all__ = [
    "EXPORTERS",
    "ExportError",
    "Exporter",
    "export",
    "get_exporter",
    "list_exporters",
    "register_exporter",
]


@dataclass(frozen=True)
class Exporter:
    """A named export target and how to check a file it wrote against the PyTorch model.

    ``verify(net, path, x, options) -> str`` runs the written file in its consumer on input ``x``
    and returns a one-line agreement figure (the CLI's ``--verify``).
    """

    name: str
    suffix: str
    options: tuple[str, ...]
    export: Callable[..., Path]
    verify: Callable[[Any, Path, Any, dict[str, Any]], str]
    description: str = ""


# Export targets by name; the CLI's ``--to`` choices come from here.
EXPORTERS: Registry[Exporter] = Registry("export target")


def register_exporter(exporter: Exporter) -> Exporter:
    """Add an exporter to the registry."""
    return EXPORTERS.add(exporter.name, exporter)


def list_exporters() -> list[str]:
    """Registered exporter names."""
    return EXPORTERS.names()


def get_exporter(name: str) -> Exporter:
    """Look up an exporter; unknown names list the known ones."""
    return EXPORTERS.get(name)


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


def _verify_nir(net: Any, path: Path, x: Any, options: dict[str, Any]) -> str:
    from exporters.verify import compare_nir

    check = compare_nir(net, x, geq_threshold=bool(options.get("geq_threshold")))
    return (f"executor vs PyTorch on random input: spike mismatch rate "
            f"{check.mismatch_rate:.2e} over {check.spikes_compared} spike values")


def _onnx(net: Any, path: str | Path, **kw: Any) -> Path:
    from exporters.onnx_export import export_onnx

    return export_onnx(net, path, **kw)


def _verify_onnx(net: Any, path: Path, x: Any, options: dict[str, Any]) -> str:
    import torch

    from exporters.onnx_export import run_onnx

    with torch.no_grad():
        want = net(x).numpy()
    got, _ = run_onnx(path, x)
    return f"onnxruntime vs PyTorch on random input: max abs diff {abs(got - want).max():.2e}"


def _lava(net: Any, path: str | Path, **kw: Any) -> Path:
    from exporters.lava_export import export_netx

    return export_netx(net, path, **kw)


def _verify_lava(net: Any, path: Path, x: Any, options: dict[str, Any]) -> str:
    from exporters.lava_compat import lava_available

    if not lava_available():
        return "Lava not installed (make loihi): not verified"
    from exporters.lava_run import compare_lava

    rep = compare_lava(net, x, path)
    worst = min(r["cosine"] for r in rep["layers"].values())
    return (f"Lava fixed_pt vs PyTorch on random input: class agreement "
            f"{rep['class_agreement']:.2f}, lowest per-layer cosine {worst:.3f}")


register_exporter(Exporter("nir", ".nir", ("compat", "dt", "geq_threshold"), _nir, _verify_nir,
                           "NIR 1.0 graph (HDF5), BN folded, PLIF as LIF, forward Euler dt"))
register_exporter(Exporter("onnx", ".onnx", (), _onnx, _verify_onnx,
                           "single-timestep ONNX graph (x_t, v...) -> (votes_t, v...)"))
register_exporter(Exporter("lava", ".h5", (), _lava, _verify_lava,
                           "lava-dl netx HDF5 for Loihi 2 (8-bit weights, fixed-point CUBA)"))
