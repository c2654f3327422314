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
# A 3-class, 3-channel data set that is not on disk: --verify falls back to synthetic input.
RECORD = {"dataset": "no-such-set", "classes": ["a", "b", "c"], "input_shape": [3, 32, 32],
          "encoding": "static", "scale": 1 / 255, "pad": 0, "mean": [0.5, 0.4, 0.3],
          "std": [0.2, 0.25, 0.3], "recipe": "uint8 / 255, then (x - mean) / std"}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    net = autosnn.build("snn1", "SRB_k3,skip,SCB_k3,SRB_k5,skip", channels=4, num_classes=3,
                        timesteps=4)
    randomise(net, seed=1)
    path = tmp_path_factory.mktemp("ckpt") / "net.pt"
    autosnn.save(net, path, extra={"preprocess": RECORD})
    return path, net


def test_export_nir_default_path_and_same_outputs(checkpoint):
    path, net = checkpoint
    res = runner.invoke(app, ["export", str(path), "--to", "nir", "--verify"])
    assert res.exit_code == 0, res.output
    out = path.with_suffix(".nir")
    assert out.is_file() and "SYNTHETIC" in res.output  # labelled: the data set is absent
    for consumer in ("executor", "spikingjelly", "norse"):
        assert f"{consumer}: class agreement with PyTorch 100.0%" in res.output
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


def test_output_equal_to_the_checkpoint_is_refused_and_the_checkpoint_kept(checkpoint):
    path, _ = checkpoint
    before = path.read_bytes()
    res = runner.invoke(app, ["export", str(path), "--to", "nir", "-o", str(path)])
    assert res.exit_code == 2
    assert "overwrite the input" in res.output and len(res.output.strip().splitlines()) == 1
    assert path.read_bytes() == before
    autosnn.load(path)  # still a checkpoint


def test_unknown_preprocessing_is_refused_unless_allowed(tmp_path):
    net = autosnn.build("snn1", "SCB_k3,skip,SCB_k3,SCB_k3,skip", channels=4, num_classes=3,
                        timesteps=4)
    bare = tmp_path / "bare.pt"
    autosnn.save(net, bare)  # no extra: nothing says how inputs are prepared
    res = runner.invoke(app, ["export", str(bare), "--to", "nir"])
    assert res.exit_code == 2 and "extra.preprocess" in res.output
    assert not bare.with_suffix(".nir").exists()
    res = runner.invoke(app, ["export", str(bare), "--to", "nir", "--allow-unknown-preprocess"])
    assert res.exit_code == 0, res.output
    meta = read_nir(bare.with_suffix(".nir")).metadata
    assert meta["preprocess_known"] is False or meta["preprocess_known"] == 0
    assert meta["preprocess"].startswith("unknown")


def test_dataset_option_records_the_registry_preprocessing(tmp_path):
    from autosnn.data.registry import get_spec

    net = autosnn.build("snn1", "SCB_k3,skip,SCB_k3,SCB_k3,skip", channels=4, num_classes=10,
                        input_shape=(1, 32, 32), timesteps=4)
    bare = tmp_path / "fm.pt"
    autosnn.save(net, bare)
    res = runner.invoke(app, ["export", str(bare), "--to", "nir", "--dataset", "fashion-mnist"])
    assert res.exit_code == 0, res.output
    meta = read_nir(bare.with_suffix(".nir")).metadata
    info = get_spec("fashion-mnist").info
    assert meta["dataset"] == "fashion-mnist"
    assert meta["class_names"] == list(info.classes) and len(meta["class_names"]) == 10
    np.testing.assert_allclose(meta["mean"], info.mean)
    np.testing.assert_allclose(meta["std"], info.std)
    assert meta["pad"] == 2 and meta["T"] == 4 and meta["compat"] == "portable"
    assert meta["genotype"] == "SCB_k3,skip,SCB_k3,SCB_k3,skip" and meta["space"] == "snn1"
    assert meta["autosnn_version"] == autosnn.__version__


def test_verify_exits_nonzero_when_a_consumer_disagrees(checkpoint, tmp_path, monkeypatch):
    """A consumer below its threshold fails the command (here: a file whose weights were
    altered after writing, so every consumer disagrees with the PyTorch model)."""
    import exporters

    path, _ = checkpoint
    real = exporters.get_exporter("onnx")

    def corrupt(net, out, **kw):
        written = real.export(net, out, **kw)
        import onnx

        model = onnx.load(str(written))
        for init in model.graph.initializer:  # flip every weight's sign
            arr = onnx.numpy_helper.to_array(init)
            if arr.dtype == np.float32 and arr.ndim >= 2:
                init.CopyFrom(onnx.numpy_helper.from_array(-arr, init.name))
        onnx.save(model, str(written))
        return written

    monkeypatch.setitem(exporters.EXPORTERS._items, "onnx",
                        exporters.Exporter("onnx", ".onnx", (), corrupt, real.verify))
    res = runner.invoke(app, ["export", str(path), "--to", "onnx", "-o",
                              str(tmp_path / "bad.onnx"), "--verify"])
    assert res.exit_code == 1, res.output
    assert "BELOW THRESHOLD" in res.output


def test_verify_plot_is_a_png_and_never_the_checkpoint(checkpoint, tmp_path):
    path, _ = checkpoint
    png = tmp_path / "agree.png"
    res = runner.invoke(app, ["export", str(path), "--to", "nir", "-o", str(tmp_path / "n.nir"),
                              "--verify", "--plot", str(png)])
    assert res.exit_code == 0, res.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    before = path.read_bytes()
    res = runner.invoke(app, ["export", str(path), "--to", "nir", "-o", str(tmp_path / "m.nir"),
                              "--verify", "--plot", str(path)])
    assert res.exit_code == 2 and "overwrite the input" in res.output
    assert path.read_bytes() == before
    assert not (tmp_path / "m.nir").exists()  # refused before anything was written
