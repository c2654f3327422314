"""``autosnn data info``: what it prints, and the one-line error for missing data."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

import autosnn.app.cli.data  # noqa: F401  (registers 'data' on the shared app)
from autosnn.app.cli.app import app, run_cli

DEBIAN_FMNIST = Path("/usr/share/datasets/fashion-mnist")


def _write_cifar10(root: Path) -> None:
    root.mkdir(parents=True)
    record = bytes([3]) + bytes(3072)
    for i in range(1, 6):
        (root / f"data_batch_{i}.bin").write_bytes(record * 4)  # 20 training images
    (root / "test_batch.bin").write_bytes(record * 7)


def test_info_prints_split_sizes_shape_and_classes(tmp_path: Path) -> None:
    _write_cifar10(tmp_path / "cifar-10-batches-bin")
    result = CliRunner().invoke(app, ["data", "info", "cifar10", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = dict(line.split(None, 1) for line in result.output.splitlines() if " " in line)
    assert lines["train"].strip() == "16" and lines["val"].strip() == "4"
    assert lines["test"].strip() == "7"
    assert "3x32x32" in result.output and lines["classes"].strip() == "10"


def test_info_marks_synthetic_data() -> None:
    result = CliRunner().invoke(app, ["data", "info", "synthetic"])
    assert result.exit_code == 0 and "SYNTHETIC" in result.output


def test_list_names_every_dataset() -> None:
    result = CliRunner().invoke(app, ["data", "list"])
    assert result.exit_code == 0
    for name in ("fashion-mnist", "cifar10-dvs", "nmnist", "tiny-imagenet"):
        assert name in result.output


def test_missing_data_is_one_error_line_exit_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    with pytest.raises(SystemExit) as exit_info:
        run_cli(["data", "info", "svhn", "--data-dir", str(data)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert "Traceback" not in err
    assert "train_32x32.mat" in err and "ufldl.stanford.edu" in err
    assert sorted(os.listdir(tmp_path)) == ["data"] and os.listdir(data) == []


def test_malformed_file_is_named_in_the_error(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "mnist"
    root.mkdir()
    for name in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte"):
        (root / name).write_bytes(struct.pack(">IIII", 0x803, 1, 28, 28) + bytes(784))
    (root / "train-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x801, 1) + bytes(1))
    (root / "t10k-labels-idx1-ubyte").write_bytes(b"garbage")
    with pytest.raises(SystemExit) as exit_info:
        run_cli(["data", "info", "mnist", "--data-dir", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "t10k-labels-idx1-ubyte" in err and err.count("\n") == 1


@pytest.mark.skipif(not (DEBIAN_FMNIST / "train-images-idx3-ubyte.gz").is_file(),
                    reason="Debian package dataset-fashion-mnist not installed")
def test_info_fashion_mnist_reports_debian_package_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOSNN_DATA", raising=False)
    result = CliRunner().invoke(app, ["data", "info", "fashion-mnist"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split(None, 1) for line in result.output.splitlines() if " " in line)
    assert [lines[k].strip() for k in ("train", "val", "test")] == ["48000", "12000", "10000"]
    assert "input shape  1x32x32" in result.output and lines["classes"].strip() == "10"
    assert DEBIAN_FMNIST.as_posix() in result.output


@pytest.mark.parametrize("option", [["--limit", "0"], ["--limit", "-3"], ["--timesteps", "0"]])
def test_info_rejects_non_positive_limit_and_timesteps_in_one_line(
    option: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_cli(["data", "info", "synthetic", *option])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == f"error: {option[0]} must be >= 1, got {option[1]}\n"
