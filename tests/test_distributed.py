"""torchrun with 2 CPU processes (gloo) computes what one process computes.

A tiny super-network (snn1, C=4, T=2) on synthetic data: 61 training samples in batches of 25
give slices of 12/13 and a short last batch of 11 (5/6), so uneven slices are covered. With
``--sync-bn`` every rank normalises over the global batch, and the scaled per-slice losses make
DDP's averaged gradient the gradient of the whole batch; what remains is the order of
floating-point sums (the gradient all-reduce, the combined BN statistics): a relative 1e-7 per
step, which Adam turns into weight changes far below lr = 1e-3 (its step is ~lr * g/|g|, which
moves by O(lr) only if a gradient changes sign). Hence ATOL = 1e-5 after 6 steps (measured: 0
differences above it). The tolerance holds only where no spike flips: a membrane one ulp off at
the threshold changes a spike and then every later gradient by O(lr). The tests run NCHW
(``AUTOSNN_CHANNELS_LAST=0``) because the channels_last CPU convolutions round a sample
differently in a batch of 12 than in one of 25 and did flip spikes (0.4 % of the weights off by
~2 lr after one step); NCHW computes each sample alike whatever the batch.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from autosnn.app.pipeline import ModelSpec, run_supernet, run_train
from autosnn.core.checkpoint import safe_torch_load
from autosnn.core.config import TrainConfig, get_preset
from autosnn.data.spec import DataSpec

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = Path(sys.executable).with_name("torchrun")
ATOL = 1e-5
COMMON = ["--dataset", "synthetic", "--channels", "4", "--timesteps", "2", "--limit", "61",
          "--batch-size", "25", "--preset", "paper", "--seed", "3", "--device", "cpu",
          "--precision", "fp32", "--quiet"]

pytestmark = pytest.mark.skipif(not TORCHRUN.is_file(), reason="torchrun not installed")


@pytest.fixture(autouse=True)
def _nchw(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-process runs in this module use NCHW too (see the module docstring)."""
    monkeypatch.setenv("AUTOSNN_CHANNELS_LAST", "0")


def torchrun(*args: str) -> subprocess.CompletedProcess:
    """``torchrun --nproc-per-node 2 -m autosnn ARGS`` on CPU, one thread per process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "AUTOSNN_COMPILE": "0",
           "AUTOSNN_CHANNELS_LAST": "0"}
    env.pop("WORLD_SIZE", None)
    cmd = [str(TORCHRUN), "--standalone", "--nproc-per-node", "2", "-m", "autosnn", *args]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def data_spec() -> DataSpec:
    return DataSpec(dataset="synthetic", seed=3, train_limit=61, val_limit=61, test_limit=61,
                    timesteps=2)


def train_cfg(epochs: int, stage: str = "supernet") -> TrainConfig:
    """The paper preset's settings for that stage (what the torchrun side gets from --preset;
    its pad-4 crop, with seed 3, flips no spike between the 1- and 2-process runs)."""
    base: TrainConfig = getattr(get_preset("paper"), stage)
    return replace(base, epochs=epochs, batch_size=25, seed=3, device="cpu", precision="fp32",
                   cutout=0)


def weights(path: Path) -> dict[str, torch.Tensor]:
    return safe_torch_load(path)["state_dict"]


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a
               if a[k].is_floating_point())


def test_two_process_supernet_with_resume_equals_one_process(tmp_path: Path, one_thread) -> None:
    two = tmp_path / "two"
    torchrun("supernet", *COMMON, "--epochs", "1", "--sync-bn", "--out", str(two))
    first = json.loads((two / "supernet-timing.json").read_text())
    assert first["processes"] == 2
    torchrun("supernet", *COMMON, "--epochs", "2", "--sync-bn", "--resume", "--out", str(two))
    one = tmp_path / "one"
    result = run_supernet(data=data_spec(), model=ModelSpec(channels=4, timesteps=2),
                          train=train_cfg(2), out=one)
    assert max_difference(weights(two / "supernet.pt"), weights(one / "supernet.pt")) < ATOL
    history = safe_torch_load(two / "supernet-state.pt")["history"]
    spikes = [h["spikes"] for h in json.loads(history)]
    assert spikes == pytest.approx([h.spikes for h in result.history], rel=1e-4)
    assert [h["samples"] for h in json.loads(history)] == [61, 61]


def test_two_process_train_equals_one_process(tmp_path: Path, one_thread) -> None:
    two = tmp_path / "two"
    args = ["train", *COMMON, "--genotype", "autosnn-lam0.08", "--epochs", "1", "--cutout", "0"]
    torchrun(*args, "--sync-bn", "--out", str(two))
    one = tmp_path / "one"
    single = run_train(data=data_spec(), out=one, train=train_cfg(1, "retrain"),
                       model=ModelSpec(channels=4, timesteps=2, genotype="autosnn-lam0.08"))
    assert max_difference(weights(two / "model.pt"), weights(one / "model.pt")) < ATOL
    summary = json.loads((two / "train.json").read_text())
    assert summary["test_samples"] == single["test_samples"] > 0
    assert summary["test_accuracy"] == single["test_accuracy"]
    assert summary["history"][0]["samples"] == 61


def test_without_sync_bn_ranks_normalise_their_own_slice(tmp_path: Path, one_thread) -> None:
    """The documented default: per-rank batch norm, which is *not* one process's maths."""
    two = tmp_path / "two"
    torchrun("supernet", *COMMON, "--epochs", "1", "--out", str(two))
    one = tmp_path / "one"
    run_supernet(data=data_spec(), model=ModelSpec(channels=4, timesteps=2), train=train_cfg(1),
                 out=one)
    assert max_difference(weights(two / "supernet.pt"), weights(one / "supernet.pt")) > ATOL
    shutil.rmtree(tmp_path)
