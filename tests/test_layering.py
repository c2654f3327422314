"""Every package imports only what its layer may: a table of allowed dependencies, checked over
every ``import`` in every module (the ones inside functions too).

    autosnn.app  (CLI, pipeline, reports, experiments, chip-cost adapter: the application layer)
       |  may import everything below
    autosnn.search   exporters   hwsim          <- siblings: none imports another
       |                 |          |
    autosnn.train        |          |
       |                 |          |
    autosnn.data --------+          |
       |                            |
    autosnn.core                    |
       |                            |
    safeio  <-----------------------+  (one writer and path policy for every output)

``hwsim`` knows NIR and numpy, never autosnn or the exporters; the search sees a cost function,
never hwsim or the exporters; only the application layer wires them together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOPS = ("autosnn", "exporters", "hwsim", "safeio")
LAYERS = ("autosnn.core", "autosnn.data", "autosnn.train", "autosnn.search", "autosnn.app")

ALLOWED: dict[str, set[str]] = {
    "safeio": set(),
    "autosnn.core": {"safeio"},
    "autosnn.data": {"autosnn.core", "safeio"},
    "autosnn.train": {"autosnn.core", "autosnn.data", "safeio"},
    "autosnn.search": {"autosnn.core", "autosnn.data", "autosnn.train", "safeio"},
    "exporters": {"autosnn.core", "autosnn.data", "safeio"},
    "hwsim": {"safeio"},
    "autosnn.app": {"autosnn.core", "autosnn.data", "autosnn.train", "autosnn.search",
                    "exporters", "hwsim", "safeio"},
}


def layer_of(module: str) -> str | None:
    """The layer a dotted module name belongs to (``autosnn`` itself is the core's facade)."""
    if module == "autosnn":
        return "autosnn.core"
    if module == "autosnn.__main__":  # ``python -m autosnn`` runs the CLI
        return "autosnn.app"
    for layer in LAYERS:
        if module == layer or module.startswith(layer + "."):
            return layer
    for top in TOPS[1:]:
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
    for top in TOPS:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            found.append((".".join(parts), path))
    return found


def violation(module: str, target: str) -> str | None:
    """Why ``module`` may not import ``target`` (None when it may)."""
    here, there = layer_of(module), layer_of(target)
    if here is None or there is None or here == there or there in ALLOWED[here]:
        return None
    return f"{module} ({here}) imports {target} ({there}); {here} may import only " \
           f"{', '.join(sorted(ALLOWED[here])) or 'nothing of ours'}"


def violations() -> list[str]:
    return [v for module, path in modules() for target in imports_of(path, module)
            if (v := violation(module, target)) is not None]


def test_every_package_imports_only_what_its_layer_allows() -> None:
    assert violations() == []


@pytest.mark.parametrize(("module", "target"), [
    ("autosnn.core.network", "autosnn.search.fitness"),    # upwards
    ("autosnn.search.evaluate", "exporters.nir_export"),   # a sibling library
    ("hwsim.estimate", "autosnn.core.network"),            # hwsim knows no autosnn
    ("exporters.nir_export", "autosnn.app.report"),        # a library into the application
    ("safeio", "autosnn.core.errors"),                     # the bottom layer imports nothing
])
def test_checker_catches_a_forbidden_import(module: str, target: str) -> None:
    assert violation(module, target) is not None


def test_checker_reads_imports_inside_functions(tmp_path: Path) -> None:
    fake = tmp_path / "m.py"
    fake.write_text("def f():\n    from autosnn.search.fitness import Evaluation\n")
    assert "autosnn.search.fitness" in imports_of(fake, "autosnn.core.m")


def test_every_top_level_package_has_a_rule() -> None:
    for module, _ in modules():
        assert layer_of(module) in ALLOWED, module


@pytest.mark.parametrize("layer", ["autosnn/core", "autosnn/data", "autosnn/train",
                                   "autosnn/search", "autosnn/app"])
def test_layer_folders_exist(layer: str) -> None:
    assert (ROOT / layer / "__init__.py").is_file()
