"""Exporters of autosnn networks, looked up by name: ``nir``, ``onnx``, ``lava``.

>>> from exporters import get_exporter
>>> export(net, "nir", "net.nir", preprocess=record)

Each exporter is an :class:`Exporter` (name, default file suffix, option names, a function
``export(net, path, *, preprocess, inputs, **options) -> Path`` and a ``verify`` that runs the
written file in every installed consumer of its format); ``register_exporter`` adds one. All start
from the network's NIR graph (one lowering walk, :mod:`autosnn.core.lowering`), never from their
own walk of the module tree. Anything a target cannot express raises :class:`ExportError` naming
the layer and the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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

    ``export(net, path, *, preprocess, inputs, **options) -> Path`` writes atomically and refuses
    a ``path`` that is one of ``inputs``; ``verify(net, path, x) -> list[ConsumerCheck]`` runs the
    written file in every installed consumer of its format on input ``x`` (the CLI's
    ``--verify``).
    """

    name: str
    suffix: str
    options: tuple[str, ...]
    export: Callable[..., Path]
    verify: Callable[[Any, Path, Any], list[Any]]
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


def export(
    net: Any,
    target: str,
    path: str | Path,
    *,
    preprocess: dict[str, Any] | None = None,
    inputs: Sequence[str | Path] = (),
    **options: Any,
) -> Path:
    """Export ``net`` to ``target`` at ``path`` (never onto one of ``inputs``), recording the
    ``preprocess`` record; options not used by the target are an error."""
    exp = get_exporter(target)
    bad = [k for k, v in options.items() if k not in exp.options and v is not None]
    if bad:
        raise ExportError(
            f"option(s) {', '.join(bad)} do not apply to --to {target}; "
            f"it accepts: {', '.join(exp.options) or 'none'}"
        )
    kw = {k: v for k, v in options.items() if v is not None}
    return exp.export(net, path, preprocess=preprocess, inputs=tuple(inputs), **kw)


def _nir(net: Any, path: str | Path, **kw: Any) -> Path:
    from exporters.nir_export import export_nir

    return export_nir(net, path, **kw)


def _verify_nir(net: Any, path: Path, x: Any) -> list[Any]:
    from exporters.verify import check_nir_file

    return check_nir_file(net, path, x)


def _onnx(net: Any, path: str | Path, **kw: Any) -> Path:
    from exporters.onnx_export import export_onnx

    return export_onnx(net, path, **kw)


def _verify_onnx(net: Any, path: Path, x: Any) -> list[Any]:
    from exporters.verify import check_onnx_file

    return check_onnx_file(net, path, x)


def _lava(net: Any, path: str | Path, **kw: Any) -> Path:
    from exporters.lava_export import export_lava

    return export_lava(net, path, **kw)


def _verify_lava(net: Any, path: Path, x: Any) -> list[Any]:
    from exporters.verify import check_lava_file

    return check_lava_file(net, path, x)


def _speck(net: Any, path: str | Path, **kw: Any) -> Path:
    from exporters.speck_export import export_speck

    return export_speck(net, path, **kw)


def _verify_speck(net: Any, path: Path, x: Any) -> list[Any]:
    from exporters.speck_export import check_speck

    return check_speck(net, path, x)


register_exporter(Exporter("nir", ".nir", ("compat", "dt", "geq_threshold"), _nir, _verify_nir,
                           "NIR 1.0 graph (HDF5), portable by default (spikingjelly, norse, "
                           "our runner), BN folded, PLIF as LIF, forward Euler dt"))
register_exporter(Exporter("onnx", ".onnx", (), _onnx, _verify_onnx,
                           "single-timestep ONNX graph (x_t, v...) -> (votes_t, v...)"))
register_exporter(Exporter("lava", ".h5", (), _lava, _verify_lava,
                           "Lava (Loihi 2): netx HDF5 for chains, a Lava process graph for "
                           "residual networks (8-bit weights, fixed-point CUBA)"))
register_exporter(Exporter("speck", ".speck.json", (), _speck, _verify_speck,
                           "SynSense Speck via sinabs DynapcnnNetwork (speck space networks): "
                           "layer->core map, memory per core, discretised parameters"))
