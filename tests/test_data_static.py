"""Static datasets read from tiny copies of their official on-disk formats, written here."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from autosnn.core.errors import DataError
from autosnn.data import DatasetSplits, list_datasets, load_dataset, split_train_val

DEBIAN_FMNIST = Path("/usr/share/datasets/fashion-mnist")


def _official_order(splits: DatasetSplits, part: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Reassemble the official training set from D_train + D_val using the recorded indices."""
    idx = torch.cat([splits.split_indices.train, splits.split_indices.val])
    inputs = torch.cat([splits.train.inputs, splits.val.inputs])
    labels = torch.cat([splits.train.labels, splits.val.labels])
    order = torch.argsort(idx)
    return inputs[order], labels[order]


# ---------------------------------------------------------------- MNIST / Fashion-MNIST (IDX)
def _write_idx(path: Path, array: np.ndarray, *, gz: bool) -> None:
    header = struct.pack(">I", 0x0800 | array.ndim) + b"".join(
        struct.pack(">I", d) for d in array.shape
    )
    data = header + array.astype(np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


def _write_mnist(root: Path, rng: np.random.Generator, *, gz: bool, n_train: int = 10,
                 n_test: int = 4) -> dict[str, np.ndarray]:
    root.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train_x": rng.integers(0, 256, (n_train, 28, 28)), "train_y": rng.integers(0, 10, n_train),
        "test_x": rng.integers(0, 256, (n_test, 28, 28)), "test_y": rng.integers(0, 10, n_test),
    }
    _write_idx(root / "train-images-idx3-ubyte", arrays["train_x"], gz=gz)
    _write_idx(root / "train-labels-idx1-ubyte", arrays["train_y"], gz=gz)
    _write_idx(root / "t10k-images-idx3-ubyte", arrays["test_x"], gz=gz)
    _write_idx(root / "t10k-labels-idx1-ubyte", arrays["test_y"], gz=gz)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_idx_images_come_back_exactly_padded_to_32(tmp_path: Path, name: str, gz: bool) -> None:
    arrays = _write_mnist(tmp_path / name, np.random.default_rng(1), gz=gz)
    splits = load_dataset(name, tmp_path)
    train_x, train_y = _official_order(splits, "train")
    assert train_x.shape == (10, 1, 32, 32) and train_x.dtype == torch.uint8
    assert torch.equal(train_x[:, 0, 2:30, 2:30], torch.from_numpy(arrays["train_x"]).byte())
    border = train_x.clone()
    border[:, :, 2:30, 2:30] = 0
    assert border.sum() == 0
    assert train_y.tolist() == arrays["train_y"].tolist()
    assert torch.equal(splits.test.inputs[:, 0, 2:30, 2:30],
                       torch.from_numpy(arrays["test_x"]).byte())
    assert splits.test.labels.tolist() == arrays["test_y"].tolist()
    assert splits.info.input_shape == (1, 32, 32) and splits.info.num_classes == 10


def test_idx_with_wrong_magic_names_file_and_expected_format(tmp_path: Path) -> None:
    _write_mnist(tmp_path, np.random.default_rng(0), gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"\x00\x00\x08\x01" + path.read_bytes()[4:])
    with pytest.raises(DataError) as err:
        load_dataset("mnist", tmp_path)
    assert "train-images-idx3-ubyte" in str(err.value) and "magic" in str(err.value)


def test_truncated_idx_is_reported_as_truncated(tmp_path: Path) -> None:
    _write_mnist(tmp_path, np.random.default_rng(0), gz=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.*truncated"):
        load_dataset("mnist", tmp_path)


def test_missing_label_file_names_it_and_the_origin(tmp_path: Path) -> None:
    _write_mnist(tmp_path, np.random.default_rng(0), gz=True)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError) as err:
        load_dataset("fashion-mnist", tmp_path)
    msg = str(err.value)
    assert "t10k-labels-idx1-ubyte" in msg and "zalandoresearch" in msg


def test_empty_data_dir_says_what_layout_is_expected(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        load_dataset("cifar10", tmp_path)
    msg = str(err.value)
    assert str(tmp_path) in msg and "cifar-10-batches-bin" in msg and "toronto.edu" in msg


def test_unknown_dataset_lists_the_known_ones() -> None:
    with pytest.raises(DataError, match="cifar10"):
        load_dataset("imagenet-1k")


def test_registry_lists_every_required_dataset() -> None:
    required = {"fashion-mnist", "mnist", "cifar10", "cifar100", "svhn", "tiny-imagenet",
                "dvs-gesture", "cifar10-dvs", "nmnist", "synthetic", "synthetic-events"}
    assert required <= set(list_datasets())


# ---------------------------------------------------------------- splits and --limit
def test_split_is_eight_to_two_disjoint_and_reproducible() -> None:
    train, val = split_train_val(1000, seed=3)
    assert len(train) == 800 and len(val) == 200
    assert sorted(torch.cat([train, val]).tolist()) == list(range(1000))
    again_train, again_val = split_train_val(1000, seed=3)
    assert torch.equal(train, again_train) and torch.equal(val, again_val)
    other_train, _ = split_train_val(1000, seed=4)
    assert not torch.equal(train, other_train)


def test_recorded_indices_select_the_samples_in_each_split(tmp_path: Path) -> None:
    arrays = _write_mnist(tmp_path, np.random.default_rng(2), gz=False, n_train=20)
    splits = load_dataset("mnist", tmp_path, seed=7)
    expected = torch.from_numpy(arrays["train_x"]).byte()
    assert torch.equal(splits.val.inputs[:, 0, 2:30, 2:30], expected[splits.split_indices.val])
    assert splits.sizes() == {"train": 16, "val": 4, "test": 4}
    record = splits.split_indices.to_dict()
    assert record["seed"] == 7 and sorted(record["train"] + record["val"]) == list(range(20))


def test_limit_keeps_the_first_n_of_each_split(tmp_path: Path) -> None:
    _write_mnist(tmp_path, np.random.default_rng(2), gz=False, n_train=20, n_test=6)
    full = load_dataset("mnist", tmp_path, seed=1)
    small = load_dataset("mnist", tmp_path, seed=1, limit=3)
    assert small.sizes() == {"train": 3, "val": 3, "test": 3}
    assert torch.equal(small.train.inputs, full.train.inputs[:3])
    assert torch.equal(small.val.labels, full.val.labels[:3])
    assert torch.equal(small.test.inputs, full.test.inputs[:3])


# ---------------------------------------------------------------- CIFAR-10 / CIFAR-100
def _cifar10_binary(root: Path, rng: np.random.Generator, per_batch: int = 3) -> dict:
    root.mkdir(parents=True)
    out: dict[str, list] = {"train_x": [], "train_y": [], "test_x": [], "test_y": []}
    names = [(f"data_batch_{i}.bin", "train") for i in range(1, 6)] + [("test_batch.bin", "test")]
    for name, part in names:
        x = rng.integers(0, 256, (per_batch, 3, 32, 32), dtype=np.uint8)
        y = rng.integers(0, 10, per_batch, dtype=np.uint8)
        # one record: <label byte><1024 R><1024 G><1024 B>
        (root / name).write_bytes(b"".join(bytes([y[k]]) + x[k].tobytes() for k in range(per_batch)))
        out[f"{part}_x"].append(x)
        out[f"{part}_y"].append(y)
    return {k: np.concatenate(v) for k, v in out.items()}


def test_cifar10_binary_records_come_back_exactly(tmp_path: Path) -> None:
    arrays = _cifar10_binary(tmp_path / "cifar-10-batches-bin", np.random.default_rng(5))
    splits = load_dataset("cifar10", tmp_path)
    train_x, train_y = _official_order(splits, "train")
    assert torch.equal(train_x, torch.from_numpy(arrays["train_x"]))
    assert train_y.tolist() == arrays["train_y"].tolist()
    assert torch.equal(splits.test.inputs, torch.from_numpy(arrays["test_x"]))
    assert splits.test.labels.tolist() == arrays["test_y"].tolist()
    assert splits.info.input_shape == (3, 32, 32) and splits.info.flip_ok


def test_cifar10_record_with_partial_bytes_is_malformed(tmp_path: Path) -> None:
    root = tmp_path / "cifar-10-batches-bin"
    _cifar10_binary(root, np.random.default_rng(5))
    (root / "data_batch_3.bin").write_bytes((root / "data_batch_3.bin").read_bytes()[:-7])
    with pytest.raises(DataError, match="data_batch_3.bin.*3073-byte records"):
        load_dataset("cifar10", tmp_path)


def test_cifar100_binary_uses_the_fine_label(tmp_path: Path) -> None:
    root = tmp_path / "cifar-100-binary"
    root.mkdir()
    rng = np.random.default_rng(6)
    expected = {}
    for part, n in (("train", 5), ("test", 2)):
        x = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        fine = rng.integers(0, 100, n, dtype=np.uint8)
        coarse = rng.integers(0, 20, n, dtype=np.uint8)
        # record: <coarse byte><fine byte><3072 pixel bytes>
        (root / f"{part}.bin").write_bytes(
            b"".join(bytes([coarse[k], fine[k]]) + x[k].tobytes() for k in range(n))
        )
        expected[part] = (x, fine)
    splits = load_dataset("cifar100", tmp_path)
    train_x, train_y = _official_order(splits, "train")
    assert torch.equal(train_x, torch.from_numpy(expected["train"][0]))
    assert train_y.tolist() == expected["train"][1].tolist()
    assert splits.test.labels.tolist() == expected["test"][1].tolist()
    assert splits.info.num_classes == 100


@pytest.mark.parametrize("protocol", [2, 5])
def test_cifar10_python_version_is_read_through_the_safe_unpickler(tmp_path: Path,
                                                                   protocol: int) -> None:
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    rng = np.random.default_rng(8)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (2, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, 2).tolist()
        with open(root / name, "wb") as f:  # as the official files: bytes keys (protocol 2)
            pickle.dump({b"batch_label": b"x", b"data": data, b"labels": labels}, f,
                        protocol=protocol)
        batches[name] = (data, labels)
    splits = load_dataset("cifar10", tmp_path)
    train_x, train_y = _official_order(splits, "train")
    want = np.concatenate([batches[f"data_batch_{i}"][0] for i in range(1, 6)])
    assert torch.equal(train_x, torch.from_numpy(want.reshape(-1, 3, 32, 32)))
    assert train_y.tolist() == sum((batches[f"data_batch_{i}"][1] for i in range(1, 6)), [])
    assert splits.test.labels.tolist() == batches["test_batch"][1]


class _Exploit:
    def __reduce__(self) -> tuple:
        return (print, ("exploit ran",))


def test_python_pickle_with_a_foreign_global_is_refused(tmp_path: Path, capsys) -> None:
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(root / name, "wb") as f:
            pickle.dump({b"data": _Exploit(), b"labels": [0]}, f, protocol=2)
    with pytest.raises(DataError, match="data_batch_1.*refused global .*print"):
        load_dataset("cifar10", tmp_path)
    assert "exploit ran" not in capsys.readouterr().out


# ---------------------------------------------------------------- SVHN (format 2, MATLAB v5)
def test_svhn_mat_images_and_labels_come_back_with_ten_meaning_zero(tmp_path: Path) -> None:
    import scipy.io as scipy_io  # a hard requirement: SVHN cannot be read without it

    rng = np.random.default_rng(9)
    expected = {}
    for part, n in (("train", 6), ("test", 3)):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)  # official: H, W, C, N
        y = np.array([[10], [1], [5], [10], [2], [9]][:n], dtype=np.uint8)
        scipy_io.savemat(tmp_path / f"{part}_32x32.mat", {"X": x, "y": y}, format="5")
        expected[part] = (x, y)
    splits = load_dataset("svhn", tmp_path)
    train_x, train_y = _official_order(splits, "train")
    x, _ = expected["train"]
    for k in range(6):
        assert torch.equal(train_x[k], torch.from_numpy(x[:, :, :, k]).permute(2, 0, 1))
    assert train_y.tolist() == [0, 1, 5, 0, 2, 9]
    assert splits.test.labels.tolist() == [0, 1, 5]


def test_svhn_with_wrong_array_shape_is_malformed(tmp_path: Path) -> None:
    import scipy.io as scipy_io

    for part in ("train", "test"):
        scipy_io.savemat(tmp_path / f"{part}_32x32.mat",
                         {"X": np.zeros((28, 28, 3, 2), np.uint8), "y": np.ones((2, 1))})
    with pytest.raises(DataError, match=r"train_32x32.mat.*\[32, 32, 3, N\]"):
        load_dataset("svhn", tmp_path)


# ---------------------------------------------------------------- Tiny-ImageNet-200
def _write_tiny(root: Path, rng: np.random.Generator) -> dict:
    from PIL import Image

    wnids = ["n01443537", "n01629819", "n01641577"]
    root.mkdir(parents=True)
    (root / "wnids.txt").write_text("\n".join(wnids) + "\n")
    written: dict[str, list] = {"train": [], "val": []}
    for c, wnid in enumerate(wnids):
        folder = root / "train" / wnid / "images"
        folder.mkdir(parents=True)
        for i in range(2):
            path = folder / f"{wnid}_{i}.JPEG"
            Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path, "JPEG")
            written["train"].append((path, c))
    (root / "val" / "images").mkdir(parents=True)
    lines = []
    for i, c in enumerate([2, 0, 1, 2]):
        path = root / "val" / "images" / f"val_{i}.JPEG"
        mode = "L" if i == 1 else "RGB"  # the official set has a few grey-scale JPEGs
        shape = (64, 64) if mode == "L" else (64, 64, 3)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(path, "JPEG")
        lines.append(f"val_{i}.JPEG\t{wnids[c]}\t0\t0\t63\t63")
        written["val"].append((path, c))
    (root / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return written


def _decoded(path: Path) -> torch.Tensor:
    from PIL import Image

    with Image.open(path) as img:
        return torch.from_numpy(np.array(img.convert("RGB"))).permute(2, 0, 1)


def test_tiny_imagenet_val_labels_come_from_val_annotations(tmp_path: Path) -> None:
    written = _write_tiny(tmp_path / "tiny-imagenet-200", np.random.default_rng(10))
    splits = load_dataset("tiny-imagenet", tmp_path)
    assert splits.test.labels.tolist() == [2, 0, 1, 2]
    for k, (path, _) in enumerate(written["val"]):
        assert torch.equal(splits.test.inputs[k], _decoded(path))
    train_x, train_y = _official_order(splits, "train")
    assert train_y.tolist() == [c for _, c in written["train"]]
    for k, (path, _) in enumerate(written["train"]):
        assert torch.equal(train_x[k], _decoded(path))
    assert splits.info.input_shape == (3, 64, 64) and splits.info.num_classes == 3


def test_tiny_imagenet_annotation_with_unknown_wnid_names_the_line(tmp_path: Path) -> None:
    root = tmp_path / "tiny-imagenet-200"
    _write_tiny(root, np.random.default_rng(10))
    ann = root / "val" / "val_annotations.txt"
    ann.write_text(ann.read_text().replace("n01629819", "n99999999"))
    with pytest.raises(DataError, match="val_annotations.txt: line 3"):
        load_dataset("tiny-imagenet", tmp_path)


# ---------------------------------------------------------------- built-in default
@pytest.mark.skipif(not (DEBIAN_FMNIST / "train-images-idx3-ubyte.gz").is_file(),
                    reason="Debian package dataset-fashion-mnist not installed")
def test_default_dataset_is_debian_fashion_mnist_48000_12000_10000(monkeypatch) -> None:
    monkeypatch.delenv("AUTOSNN_DATA", raising=False)
    splits = load_dataset(None)
    assert splits.info.name == "fashion-mnist" and not splits.info.synthetic
    assert splits.sizes() == {"train": 48000, "val": 12000, "test": 10000}
    assert tuple(splits.train.inputs.shape[1:]) == (1, 32, 32) == splits.info.input_shape
    assert splits.info.num_classes == 10
    assert sorted(splits.test.labels.unique().tolist()) == list(range(10))
    # the stored statistics describe the padded images actually fed to the network
    pixels = splits.train.inputs.float() / 255
    assert abs(pixels.mean().item() - splits.info.mean[0]) < 0.005
    assert abs(pixels.std().item() - splits.info.std[0]) < 0.005


def test_env_var_points_at_the_data(tmp_path: Path, monkeypatch) -> None:
    arrays = _write_mnist(tmp_path / "mnist", np.random.default_rng(4), gz=True)
    monkeypatch.setenv("AUTOSNN_DATA", str(tmp_path))
    splits = load_dataset("mnist")
    assert splits.test.labels.tolist() == arrays["test_y"].tolist()
