"""Every script in examples/ runs with tiny settings (synthetic data, seconds)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_python_api_in_five_lines() -> None:
    rec = load("python_api").main()
    assert rec.feasible and rec.energy_total_j > 0


def test_cost_on_every_chip_names_why_a_chip_refuses(capsys: pytest.CaptureFixture) -> None:
    records = load("cost_on_every_chip").main(["--tiny"])
    assert records["loihi2"].feasible and not records["speck"].feasible
    out = capsys.readouterr().out
    assert "speck" in out and "9 cores" in out
    assert all(math.isfinite(r.energy_total_j) for r in records.values() if r.feasible)


def test_search_for_a_chip_writes_a_report(tmp_path: Path) -> None:
    report = load("search_for_a_chip").main(["--tiny", "--out", str(tmp_path)])
    text = report.read_text()
    assert "lambda chosen" in text and "loihi2" in text
