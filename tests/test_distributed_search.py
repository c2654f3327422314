"""``autosnn search`` under torchrun: candidates split over 2 CPU ranks give the identical search."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from autosnn.search.ranks import chunks

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = Path(sys.executable).with_name("torchrun")
SEARCH = ["--rounds", "2", "--pool", "6", "--top-k", "3", "--mutations", "2", "--crossovers", "2",
          "--lambda", "0", "--lambda", "-0.3", "--preset", "quick", "--device", "cpu", "-q"]


def run(cmd: list[str]) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "AUTOSNN_COMPILE": "0"}
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        env.pop(key, None)
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_chunks_are_contiguous_and_cover_everything() -> None:
    items = [(str(i),) for i in range(7)]
    parts = chunks(items, 3)
    assert [len(p) for p in parts] == [3, 2, 2]
    assert [g for p in parts for g in p] == items
    assert chunks(items[:1], 2) == [items[:1], []]


@pytest.mark.skipif(not TORCHRUN.is_file(), reason="torchrun not installed")
def test_two_process_search_gives_the_identical_search_json(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    py = [sys.executable, "-m", "autosnn"]
    run([*py, "supernet", "--dataset", "synthetic", "--limit", "48", "--channels", "4",
         "--timesteps", "2", "--epochs", "1", "--batch-size", "16", "--preset", "quick",
         "--device", "cpu", "--out", str(one), "-q"])
    two.mkdir()
    (two / "supernet.pt").write_bytes((one / "supernet.pt").read_bytes())
    run([*py, "search", "--out", str(one), *SEARCH])
    run([str(TORCHRUN), "--standalone", "--nproc-per-node", "2", "-m", "autosnn", "search",
         "--out", str(two), *SEARCH])
    assert (two / "search.json").read_bytes() == (one / "search.json").read_bytes()
    assert (two / "winner--0.3.json").read_bytes() == (one / "winner--0.3.json").read_bytes()
