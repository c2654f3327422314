"""The resume guarantee: a search killed with SIGKILL and rerun with --resume writes the same
search.json as an uninterrupted run with the same seed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autosnn.app.cli import app

pytestmark = pytest.mark.usefixtures("one_thread")


SEARCH = ["--lambda", "0", "--lambda", "-0.24", "--rounds", "6", "--pool", "6", "--top-k", "3",
          "--mutations", "2", "--crossovers", "2", "--seed", "5", "-q"]


def _cli(*args) -> None:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output


def _search_cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-c", "from autosnn.app.cli import main; main()", "search",
            "--out", str(out), *SEARCH, *extra]


def test_killed_search_resumes_to_the_same_search_json(tmp_path):
    base = tmp_path / "base"
    _cli("supernet", "--dataset", "synthetic", "--limit", "64", "--channels", "4",
         "--timesteps", "2", "--epochs", "1", "--batch-size", "16", "--preset", "quick",
         "--out", base, "-q")
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    for d in (straight, killed):
        d.mkdir()
        shutil.copy(base / "supernet.pt", d / "supernet.pt")
    _cli("search", "--out", straight, *SEARCH)

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(_search_cmd(killed), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    state = killed / "search-state.json"
    deadline = time.monotonic() + 120
    rounds_done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if state.exists():
            rounds_done = sum(s["round"] for s in json.loads(state.read_text())["states"].values())
            if rounds_done >= 2:
                break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the search finished before it could be killed"
    assert 2 <= rounds_done < 12
    assert not (killed / "search.json").exists()

    resumed = subprocess.run(_search_cmd(killed, "--resume"), env=env, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert (killed / "search.json").read_bytes() == (straight / "search.json").read_bytes()
    timing = json.loads((killed / "search-timing.json").read_text())
    assert timing["evaluated_by_this_run"] < timing["architectures_evaluated"]  # it did resume
    for name in ("winner-0.json", "winner--0.24.json"):
        assert (killed / name).read_text() == (straight / name).read_text()


def test_resume_with_other_settings_is_refused(tmp_path):
    _cli("supernet", "--dataset", "synthetic", "--limit", "64", "--channels", "4",
         "--timesteps", "2", "--epochs", "1", "--preset", "quick", "--out", tmp_path, "-q")
    _cli("search", "--out", tmp_path, "--rounds", "1", "--pool", "4", "--top-k", "2",
         "--mutations", "1", "--crossovers", "1", "-q")
    result = CliRunner().invoke(app, ["search", "--out", str(tmp_path), "--rounds", "1",
                                      "--pool", "4", "--top-k", "2", "--mutations", "1",
                                      "--crossovers", "1", "--seed", "9", "--resume", "-q"])
    assert result.exit_code == 2 and "other settings" in result.output
