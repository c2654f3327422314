"""Checkpoints round-trip every architecture kind and refuse pickled code."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import autosnn
from autosnn.core.checkpoint import content_digest
from autosnn.core.errors import CheckpointError
from tests.helpers import randomise_for_eval


@pytest.mark.parametrize("kind", ["space", "zoo", "supernet"])
def test_save_load_round_trip_gives_same_outputs(tmp_path: Path, kind: str) -> None:
    if kind == "space":
        model = autosnn.build("snn3", "skip," * 7 + "SRB_k3", channels=4, num_classes=5,
                              input_shape=(1, 32, 32), timesteps=3)
    elif kind == "zoo":
        model = autosnn.build_model("resnet19-zheng", channels=4, num_classes=5,
                                    input_shape=(1, 32, 32), timesteps=3)
    else:
        model = autosnn.build_supernet("snn2", channels=4, num_classes=5,
                                       input_shape=(1, 32, 32), timesteps=3)
    randomise_for_eval(model)
    path = tmp_path / "net.pt"
    autosnn.save(model, path, extra={"note": "x"})
    loaded = autosnn.load(path)
    assert loaded.config == model.config
    x = torch.randn(2, 1, 32, 32)
    assert torch.equal(loaded(x), model(x))
    assert loaded.extra == {"note": "x"}
    assert not list(tmp_path.glob(".*tmp"))  # atomic write left no temp file


class _Evil:
    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def test_checkpoint_with_pickled_code_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"meta": "{}", "state_dict": {}, "payload": _Evil(str(marker))}, path)
    with pytest.raises(CheckpointError, match="refused"):
        autosnn.load(path)
    assert not marker.exists()


def test_missing_checkpoint_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="nope.pt"):
        autosnn.load(tmp_path / "nope.pt")


def test_checkpoint_for_another_architecture_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "net.pt"
    autosnn.save(autosnn.build(channels=4), path)
    obj = torch.load(path, weights_only=True)
    obj["state_dict"] = autosnn.build(channels=8).state_dict()
    obj["sha256"] = content_digest(obj["meta"], obj["state_dict"])  # well-formed, wrong weights
    torch.save(obj, path)
    with pytest.raises(CheckpointError, match="state_dict"):
        autosnn.load(path)


def test_a_changed_weight_is_reported_as_damage(tmp_path: Path) -> None:
    path = tmp_path / "net.pt"
    autosnn.save(autosnn.build(channels=4), path)
    obj = torch.load(path, weights_only=True)
    name = next(k for k, v in obj["state_dict"].items() if v.is_floating_point())
    obj["state_dict"][name].view(-1)[0] += 1e-3  # one value off: loads, silently wrong
    torch.save(obj, path)
    with pytest.raises(CheckpointError, match="damaged"):
        autosnn.load(path)


def test_a_checkpoint_without_its_digest_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "net.pt"
    autosnn.save(autosnn.build(channels=4), path)
    obj = torch.load(path, weights_only=True)
    del obj["sha256"]
    torch.save(obj, path)
    with pytest.raises(CheckpointError, match="sha256"):
        autosnn.load(path)


def test_integer_weights_are_refused_not_cast(tmp_path: Path) -> None:
    path = tmp_path / "net.pt"
    autosnn.save(autosnn.build(channels=4), path)
    obj = torch.load(path, weights_only=True)
    name = next(k for k in obj["state_dict"] if k.endswith("weight"))
    obj["state_dict"][name] = obj["state_dict"][name].to(torch.int64)
    obj["sha256"] = content_digest(obj["meta"], obj["state_dict"])
    torch.save(obj, path)
    with pytest.raises(CheckpointError, match="int64"):
        autosnn.load(path)
