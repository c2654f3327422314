"""``autosnn experiment``: every registered experiment end to end with tiny settings on the
synthetic dataset, sub-run reuse (resume), the whole-training-set default of retraining, and
one-line errors at the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autosnn.app.cli import app
from autosnn.app.experiments import EXPERIMENTS, Settings, run_experiment
from autosnn.data import load_dataset
from autosnn.data.spec import DataSpec, load_data

TINY = dict(dataset="synthetic", preset="quick", epochs=1, limit=8, channels=4, timesteps=1,
            rounds=1, pool=2, device="cpu")
# A published figure from each table (paper text), which every report must quote.
PAPER_FIGURE = {"table1": "86.93", "table2": "88.67", "table3": "80.82", "table5": "86.97",
                "table6": "89.05", "table7": "88.02", "table9": "81.07", "table10": "64.36"}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One output root for all experiments, so they share sub-runs as real runs do."""
    return tmp_path_factory.mktemp("experiments")


def test_every_paper_table_of_the_issue_is_registered() -> None:
    want = {"table1", "table2", "table3", "table5", "table6", "table7", "table9", "table10"}
    assert want <= set(EXPERIMENTS.names())


@pytest.mark.parametrize("name", sorted(PAPER_FIGURE, key=lambda n: int(n[5:])))
def test_experiment_runs_end_to_end_and_reports_ours_beside_the_paper(name: str, root: Path) -> None:
    report = run_experiment(name, Settings(root=root, **TINY))
    text = report.read_text()
    assert report == root / name / f"{name}.md"
    assert PAPER_FIGURE[name] in text  # the paper's number, next to ours
    assert "machine:" in text and "wall time" in text and "seed 0" in text
    png = root / name / f"{name}.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads((root / name / f"{name}.json").read_text())
    measured = [r for r in doc["rows"] if any(isinstance(x, float) for x in r)]
    assert measured, "no measured numbers in the table"
    for sub in doc["subruns"]:  # every sub-run left its outputs in its own folder
        assert sub["seconds"] >= 0


def test_rerun_reuses_every_finished_subrun(root: Path) -> None:
    run_experiment("table1", Settings(root=root, **TINY))  # may already exist from above
    run_experiment("table1", Settings(root=root, **TINY))
    doc = json.loads((root / "table1" / "table1.json").read_text())
    assert len(doc["subruns"]) == 8
    assert all(s["reused"] for s in doc["subruns"])


def test_changed_settings_are_not_reused(root: Path) -> None:
    run_experiment("table9", Settings(root=root, **{**TINY, "seed": 1}))
    doc = json.loads((root / "table9" / "table9.json").read_text())
    trains = [s for s in doc["subruns"] if not s["name"].endswith("firing-rate")]
    assert trains and not any(s["reused"] for s in trains)


def test_retraining_uses_d_train_and_d_val(root: Path) -> None:
    full = load_data(DataSpec(dataset="synthetic", full_train=True))
    split = load_dataset("synthetic")
    assert len(full.train) == len(split.train) + len(split.val)
    assert len(full.val) == len(split.val)  # D_val still there for the search
    # and the retrained networks of the experiments recorded it
    folder = next((root / "runs").glob("*/train-snn1-SCB3-*-C4"))
    assert json.loads((folder / "train.json").read_text())["data"]["full_train"] is True


def test_list_shows_every_experiment_with_costs() -> None:
    result = CliRunner().invoke(app, ["experiment", "list"])
    assert result.exit_code == 0, result.output
    for name in EXPERIMENTS.names():
        assert name in result.output
    assert " min" in result.output and " h" in result.output


def test_bad_option_is_one_line_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["experiment", "table1", "--epochs", "-1",
                                      "--dataset", "synthetic", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "--epochs" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(app, ["experiment", "table4"])
    assert result.exit_code == 2 and "Traceback" not in result.output
