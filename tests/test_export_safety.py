"""Safe writes: a failed export (full disk, crash mid-write) leaves the earlier file intact and no
temp file behind; an output path equal to an input is refused before anything is written."""

from __future__ import annotations

import errno

import pytest
import torch

import autosnn
from exporters import get_exporter, list_exporters
from exporters.verify import randomise
from safeio import OutputError, atomic_path

EARLIER = b"an earlier export the user still has"
# speck takes speck-space networks only; its safe writes: tests/test_export_speck.py
TARGETS = [t for t in list_exporters() if t != "speck"]


@pytest.fixture(scope="module")
def net() -> autosnn.SpikingNet:
    torch.manual_seed(0)
    return randomise(autosnn.build("snn1", "SRB_k3,skip,SCB_k3,SCB_k3,skip", channels=4,
                                   num_classes=3, timesteps=4), seed=1)


def _disk_full_after_partial_write():
    """A writer (``nir.write(path, graph)``, ``onnx.save(model, path)``) that writes part of its
    output, then fails as a full disk does."""

    def write(*args, **kwargs):
        path = next(a for a in args if isinstance(a, str))
        with open(path, "wb") as f:
            f.write(b"\x89HDF half a file")
        raise OSError(errno.ENOSPC, "No space left on device")

    return write


@pytest.mark.parametrize("target", TARGETS)
def test_failed_write_keeps_the_earlier_file_and_leaves_no_temp(target, net, tmp_path,
                                                                monkeypatch):
    import h5py
    import nir
    import onnx

    out = tmp_path / f"net{get_exporter(target).suffix}"
    out.write_bytes(EARLIER)
    if target == "nir":
        monkeypatch.setattr(nir, "write", _disk_full_after_partial_write())
    elif target == "onnx":
        monkeypatch.setattr(onnx, "save", _disk_full_after_partial_write())
    else:
        def full(*args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(h5py.File, "create_group", full)
    with pytest.raises(OutputError, match="net.*No space left"):
        get_exporter(target).export(net, out)
    assert out.read_bytes() == EARLIER
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


@pytest.mark.parametrize("target", TARGETS)
def test_successful_write_replaces_the_earlier_file(target, net, tmp_path):
    out = tmp_path / f"net{get_exporter(target).suffix}"
    out.write_bytes(EARLIER)
    get_exporter(target).export(net, out)
    data = out.read_bytes()
    assert data != EARLIER and len(data) > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


@pytest.mark.parametrize("target", TARGETS)
def test_output_equal_to_an_input_is_refused(target, net, tmp_path):
    ckpt = tmp_path / "net.pt"
    autosnn.save(net, ckpt)
    before = ckpt.read_bytes()
    with pytest.raises(OutputError, match="overwrite the input"):
        get_exporter(target).export(net, tmp_path / "." / "net.pt", inputs=(ckpt,))
    assert ckpt.read_bytes() == before


def test_atomic_output_is_refused_through_a_symlink(tmp_path):
    real = tmp_path / "model.pt"
    real.write_bytes(b"weights")
    link = tmp_path / "link.nir"
    link.symlink_to(real)
    with pytest.raises(OutputError, match="overwrite the input"), atomic_path(
        link, inputs=(real,)
    ):
        pass
    assert real.read_bytes() == b"weights"
