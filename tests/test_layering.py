"""The package layers import only downwards, so there is no import cycle between sub-packages.

core (neurons, blocks, network, registries, presets) < data < train / exporters < search < app
(pipeline, chip-cost adapter, CLI: the only code that may import ``hwsim``); ``hwsim`` knows NIR and
numpy, never autosnn or the exporters. Every ``import`` in every module counts, including the
ones inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

RANK = {
    "safeio": -1,
    "autosnn.core": 0,
    "autosnn.data": 1,
    "autosnn.train": 2,
    "exporters": 2,
    "autosnn.search": 3,
    "autosnn.app": 4,
}


def layer_of(module: str) -> str | None:
    """The layer a dotted module name belongs to (``autosnn`` itself is the core's facade)."""
    if module == "autosnn":
        return "autosnn.core"
    for layer in ("autosnn.core", "autosnn.data", "autosnn.train", "autosnn.search",
                  "autosnn.app"):
        if module == layer or module.startswith(layer + "."):
            return layer
    for top in ("exporters", "hwsim", "safeio"):
        if module == top or module.startswith(top + "."):
            return top
    return None


def imports_of(path: Path, module: str) -> list[str]:
    """Absolute module names imported anywhere in ``path`` (relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            out.append(base)
            out += [f"{base}.{a.name}" for a in node.names]  # ``from autosnn import data``
    return out


def modules() -> list[tuple[str, Path]]:
    found = []
    for top in ("autosnn", "exporters", "hwsim", "safeio"):
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            found.append((".".join(parts), path))
    return found


def violations() -> list[str]:
    bad = []
    for module, path in modules():
        here = layer_of(module)
        for target in imports_of(path, module):
            there = layer_of(target)
            if there is None or there == here:
                continue
            if here == "safeio":
                bad.append(f"{module} imports {target} (safeio is the bottom layer)")
            elif there == "safeio":
                continue  # every package writes its outputs through safeio
            elif here == "hwsim" or there == "hwsim" and here != "autosnn.app":
                bad.append(f"{module} imports {target} (hwsim is reached only from autosnn.app)")
            elif here in RANK and there in RANK and RANK[there] >= RANK[here]:
                bad.append(f"{module} ({here}) imports {target} ({there}): not a lower layer")
    return bad


def test_layers_import_only_downwards() -> None:
    assert violations() == []


def test_checker_catches_an_upward_import(tmp_path: Path) -> None:
    # The checker itself must be able to fail: core importing the search layer is reported.
    fake = tmp_path / "m.py"
    fake.write_text("def f():\n    from autosnn.search.fitness import Evaluation\n")
    targets = imports_of(fake, "autosnn.core.m")
    assert "autosnn.search.fitness" in targets
    assert RANK[layer_of("autosnn.search.fitness")] > RANK[layer_of("autosnn.core.m")]


@pytest.mark.parametrize("layer", ["autosnn/core", "autosnn/data", "autosnn/train",
                                   "autosnn/search", "autosnn/app"])
def test_layer_folders_exist(layer: str) -> None:
    assert (ROOT / layer / "__init__.py").is_file()
