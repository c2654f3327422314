"""``autosnn export``: targets, default paths, errors, and refusing checkpoints with pickled code."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import autosnn
from exporters import list_exporters
from exporters.nir_export import read_nir
from exporters.nir_run import NIRModule
from exporters.onnx_export import run_onnx
from exporters.verify import random_input, randomise

try:  # importing the package registers every command; fall back to ours alone
    from autosnn.app.cli import app
except ImportError:  # pragma: no cover - another command module is broken
    from autosnn.app.cli.export import app

runner = CliRunner()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    net = autosnn.build("snn1", "SRB_k3,skip,SCB_k3,SRB_k5,skip", channels=4, num_classes=3,
                        timesteps=4)
    randomise(net, seed=1)
    path = tmp_path_factory.mktemp("ckpt") / "net.pt"
    autosnn.save(net, path)
    return path, net


def test_export_nir_default_path_and_same_outputs(checkpoint):
    path, net = checkpoint
    res = runner.invoke(app, ["export", str(path), "--to", "nir", "--verify"])
    assert res.exit_code == 0, res.output
    out = path.with_suffix(".nir")
    assert out.is_file() and "mismatch rate" in res.output
    x = random_input(net, 2)
    with torch.no_grad():
        want = net(x)
    got = NIRModule(read_nir(out)).run(x, 4).output.mean(0)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


def test_export_onnx_to_given_path(checkpoint, tmp_path):
    path, net = checkpoint
    out = tmp_path / "sub" / "model.onnx"
    res = runner.invoke(app, ["export", str(path), "--to", "onnx", "-o", str(out)])
    assert res.exit_code == 0, res.output
    x = random_input(net, 2, seed=3)
    with torch.no_grad():
        want = net(x).numpy()
    got, _ = run_onnx(out, x)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_export_nir_compat_option_is_recorded(checkpoint, tmp_path):
    path, _ = checkpoint
    out = tmp_path / "n.nir"
    res = runner.invoke(app, ["export", str(path), "--to", "nir", "--compat", "norse", "-o",
                              str(out)])
    assert res.exit_code == 0, res.output
    assert read_nir(out).metadata["compat"] == "norse"


def test_unknown_target_is_a_one_line_error(checkpoint):
    path, _ = checkpoint
    res = runner.invoke(app, ["export", str(path), "--to", "tflite"])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "'tflite'" in lines[0]
    assert all(name in lines[0] for name in list_exporters())  # choices come from the registry


def test_option_not_applying_to_target_is_an_error(checkpoint, tmp_path):
    path, _ = checkpoint
    res = runner.invoke(app, ["export", str(path), "--to", "onnx", "--compat", "norse", "-o",
                              str(tmp_path / "x.onnx")])
    assert res.exit_code == 2 and "compat" in res.output


def test_missing_checkpoint_names_the_file(tmp_path):
    res = runner.invoke(app, ["export", str(tmp_path / "nope.pt"), "--to", "nir"])
    assert res.exit_code == 2 and "nope.pt" in res.output


class _Payload:
    """Unpickling this runs ``os.system("touch MARKER")``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_checkpoint_with_pickled_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"meta": "{}", "state_dict": {}, "x": _Payload(str(marker))}, evil)
    # the payload is real: an unsafe load would run it
    torch.load(evil, weights_only=False)
    assert marker.exists()
    marker.unlink()

    res = runner.invoke(app, ["export", str(evil), "--to", "nir"])
    assert res.exit_code == 2
    assert "refused to load" in res.output
    assert not marker.exists()
    assert not evil.with_suffix(".nir").exists()
