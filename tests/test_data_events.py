"""Event datasets: readers for each official format (written here byte by byte), and binning."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from autosnn.core.errors import DataError
from autosnn.data import Events, events_to_frames, load_dataset, saccade_events
from autosnn.data.nmnist import read_nmnist_bin

# One real N-MNIST recording shipped with the tests (source and licence: tests/data/README.md).
SAMPLE_NMNIST = Path(__file__).resolve().parent / "data" / "nmnist_sample.bin"


# ---------------------------------------------------------------- binning
def test_events_fall_into_equal_time_bins_per_polarity_and_pixel() -> None:
    # span 0..99 -> 100 us, T = 4 -> bins [0,25) [25,50) [50,75) [75,100)
    ev = Events.of(x=[0, 1, 1, 2, 2, 2], y=[0, 0, 0, 1, 1, 1],
                   t=[0, 24, 25, 60, 61, 99], p=[1, 0, 0, 1, 1, 0])
    frames = events_to_frames(ev, timesteps=4, height=2, width=3)
    expected = np.zeros((4, 2, 2, 3), dtype=np.uint8)
    expected[0, 1, 0, 0] = 1  # t=0 ON at (x0, y0)
    expected[0, 0, 0, 1] = 1  # t=24 OFF at (x1, y0)
    expected[1, 0, 0, 1] = 1  # t=25 OFF at (x1, y0)
    expected[2, 1, 1, 2] = 2  # t=60, 61 ON at (x2, y1)
    expected[3, 0, 1, 2] = 1  # t=99 OFF at (x2, y1)
    assert frames.dtype == np.uint8
    assert np.array_equal(frames, expected)


def test_bin_edges_are_relative_to_the_first_event() -> None:
    ev = Events.of(x=[0, 0], y=[0, 0], t=[1_000_000, 1_000_001], p=[1, 1])
    frames = events_to_frames(ev, timesteps=2, height=1, width=1)
    assert frames[:, 1, 0, 0].tolist() == [1, 1]


def test_counts_saturate_at_255_instead_of_wrapping() -> None:
    ev = Events.of(x=[0] * 300, y=[0] * 300, t=[5] * 300, p=[1] * 300)
    assert events_to_frames(ev, 1, 1, 1)[0, 1, 0, 0] == 255


def test_empty_recording_gives_empty_frames() -> None:
    assert events_to_frames(Events.of([], [], [], []), 3, 2, 2).sum() == 0


# ---------------------------------------------------------------- N-MNIST
def _nmnist_record(x: int, y: int, p: int, t: int) -> bytes:
    """Orchard et al.: byte0 x, byte1 y, byte2 bit7 polarity, 23-bit big-endian timestamp."""
    return bytes([x, y, (p << 7) | ((t >> 16) & 0x7F), (t >> 8) & 0xFF, t & 0xFF])


def test_nmnist_40_bit_records_decode_exactly(tmp_path: Path) -> None:
    events = [(0, 0, 1, 0), (33, 5, 0, 70_000), (12, 33, 1, 0x7FFFFF), (7, 8, 0, 0x012345)]
    path = tmp_path / "00001.bin"
    path.write_bytes(b"".join(_nmnist_record(*e) for e in events))
    ev = read_nmnist_bin(path)
    assert ev.x.tolist() == [0, 33, 12, 7]
    assert ev.y.tolist() == [0, 5, 33, 8]
    assert ev.p.tolist() == [1, 0, 1, 0]
    assert ev.t.tolist() == [0, 70_000, 0x7FFFFF, 0x012345]


def test_nmnist_overflow_marker_is_dropped_and_shifts_later_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "00002.bin"
    path.write_bytes(_nmnist_record(1, 1, 1, 100) + _nmnist_record(0, 240, 0, 0)
                     + _nmnist_record(2, 2, 0, 50))
    ev = read_nmnist_bin(path)
    assert ev.x.tolist() == [1, 2]
    assert ev.t.tolist() == [100, 50 + 8192]


def test_real_nmnist_recording_is_within_sensor_and_time_ordered() -> None:
    ev = read_nmnist_bin(SAMPLE_NMNIST)
    assert SAMPLE_NMNIST.stat().st_size == 5 * len(ev)  # no overflow markers in this sample
    assert len(ev) > 1000
    assert 0 <= ev.x.min() and ev.x.max() <= 33 and 0 <= ev.y.min() and ev.y.max() <= 33
    assert set(np.unique(ev.p).tolist()) == {0, 1}
    assert np.all(np.diff(ev.t) >= 0)
    assert ev.t.max() < 400_000  # three saccades of ~100 ms


def test_nmnist_file_of_partial_records_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "bad.bin"
    path.write_bytes(_nmnist_record(1, 1, 1, 1) + b"\x00\x01")
    with pytest.raises(DataError, match="bad.bin.*5-byte events"):
        read_nmnist_bin(path)


def _write_nmnist_tree(root: Path) -> dict[str, list[tuple[list[tuple], int]]]:
    written: dict[str, list] = {"Train": [], "Test": []}
    specs = {"Train": {3: 2, 7: 1, 0: 2}, "Test": {1: 1, 4: 1}}
    for split, per_digit in specs.items():
        for digit, count in per_digit.items():
            folder = root / "NMNIST" / split / str(digit)
            folder.mkdir(parents=True)
            for i in range(count):
                ev = [(digit, i, 1, 10), (digit + 1, 2 * i, 0, 30), (5, 5, 1, 49)]
                (folder / f"{i:05d}.bin").write_bytes(b"".join(_nmnist_record(*e) for e in ev))
                written[split].append((ev, digit))
    return written


def test_nmnist_tonic_layout_loads_frames_and_folder_labels(tmp_path: Path) -> None:
    written = _write_nmnist_tree(tmp_path)
    splits = load_dataset("nmnist", tmp_path, timesteps=2)
    assert splits.info.is_event and splits.info.input_shape == (2, 34, 34)
    assert splits.test.inputs.shape == (2, 2, 2, 34, 34)
    assert sorted(splits.test.labels.tolist()) == [1, 4]
    for k in range(len(splits.test)):
        label = int(splits.test.labels[k])
        (ev, _), = [w for w in written["Test"] if w[1] == label]
        expected = np.zeros((2, 2, 34, 34), dtype=np.uint8)
        for x, y, p, t in ev:  # span 10..49 -> 40 us; bin 0 is t < 30
            expected[0 if t < 30 else 1, p, y, x] += 1
        assert np.array_equal(splits.test.inputs[k].numpy(), expected)
    labels = sorted(splits.train.labels.tolist() + splits.val.labels.tolist())
    assert labels == [0, 0, 3, 3, 7]


def test_nmnist_test_order_alternates_classes_so_limit_sees_several(tmp_path: Path) -> None:
    _write_nmnist_tree(tmp_path)
    splits = load_dataset("nmnist", tmp_path / "NMNIST", limit=2)
    assert splits.test.labels.tolist() == [1, 4]


def test_nmnist_without_test_folder_names_it(tmp_path: Path) -> None:
    (tmp_path / "NMNIST" / "Train" / "0").mkdir(parents=True)
    (tmp_path / "NMNIST" / "Train" / "0" / "00001.bin").write_bytes(_nmnist_record(1, 1, 1, 1))
    with pytest.raises(DataError, match=r"NMNIST/Test: folder missing.*garrickorchard"):
        load_dataset("nmnist", tmp_path)


# ---------------------------------------------------------------- DVS128 Gesture
def test_dvs_gesture_tonic_npy_layout_loads_events_and_file_name_labels(tmp_path: Path) -> None:
    root = tmp_path / "DVSGesture"
    # tonic's preprocessed arrays: columns x, y, p, t (milliseconds)
    samples = {
        ("ibmGestureTrain", "user01_fluorescent", 0): [[0, 0, 1, 0.0], [127, 127, 0, 9.0]],
        ("ibmGestureTrain", "user01_fluorescent", 10): [[5, 6, 1, 1.0], [5, 6, 1, 2.0]],
        ("ibmGestureTrain", "user02_led", 4): [[1, 2, 0, 3.0]],
        ("ibmGestureTest", "user24_natural", 2): [[64, 3, 1, 0.0], [3, 64, 0, 10.0]],
    }
    for (split, user, label), rows in samples.items():
        folder = root / split / user
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / f"{label}.npy", np.array(rows, dtype=np.float64))
    splits = load_dataset("dvs-gesture", tmp_path, timesteps=2)
    assert splits.info.input_shape == (2, 128, 128) and not splits.info.flip_ok
    assert splits.test.labels.tolist() == [2]
    frames = splits.test.inputs[0]
    assert frames[0, 1, 3, 64] == 1 and frames[1, 0, 64, 3] == 1 and frames.sum() == 2
    assert sorted(splits.train.labels.tolist() + splits.val.labels.tolist()) == [0, 4, 10]


def _aedat31(events: list[tuple[int, int, int, int]], overflow: int = 0) -> bytes:
    header = b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n"
    n = len(events)
    packet = struct.pack("<hhiiiiii", 1, 1, 8, 4, overflow, n, n, n)
    body = b"".join(
        struct.pack("<Ii", (x << 17) | (y << 2) | (p << 1) | 1, t) for x, y, p, t in events
    )
    special = struct.pack("<hhiiiiii", 0, 1, 16, 12, 0, 1, 1, 1) + bytes(16)  # not polarity
    return header + special + packet + body


def test_dvs_gesture_original_aedat31_is_cut_by_the_labels_csv(tmp_path: Path) -> None:
    root = tmp_path / "DvsGesture"
    root.mkdir()
    train_events = [(10, 20, 1, 100), (11, 21, 0, 150), (12, 22, 1, 500), (13, 23, 0, 600),
                    (14, 24, 1, 900)]
    (root / "user01_fluorescent.aedat").write_bytes(_aedat31(train_events))
    (root / "user01_fluorescent_labels.csv").write_text(
        "class,startTime_usec,endTime_usec\n3,100,200\n11,500,700\n"
    )
    (root / "user24_led.aedat").write_bytes(_aedat31([(1, 2, 1, 5), (3, 4, 0, 8)], overflow=1))
    (root / "user24_led_labels.csv").write_text("class,startTime_usec,endTime_usec\n1,0,1e12\n"
                                                .replace("1e12", str(2**32)))
    (root / "trials_to_train.txt").write_text("user01_fluorescent.aedat\n")
    (root / "trials_to_test.txt").write_text("user24_led.aedat\n")
    splits = load_dataset("dvs-gesture", tmp_path, timesteps=1)
    by_label = {int(y): x for x, y in zip(torch.cat([splits.train.inputs, splits.val.inputs]),
                                          torch.cat([splits.train.labels, splits.val.labels]),
                                          strict=True)}
    assert set(by_label) == {2, 10}  # csv classes 1..11 -> 0..10
    first = by_label[2][0]
    assert first[1, 20, 10] == 1 and first[0, 21, 11] == 1 and first.sum() == 2
    second = by_label[10][0]
    assert second[1, 22, 12] == 1 and second[0, 23, 13] == 1 and second.sum() == 2
    # the test recording sits after one timestamp overflow: t = 2**31 + ts, inside [0, 2**32)
    assert splits.test.labels.tolist() == [0] and splits.test.inputs.sum() == 2


def test_dvs_gesture_listed_recording_missing_is_named(tmp_path: Path) -> None:
    root = tmp_path / "DvsGesture"
    root.mkdir()
    (root / "trials_to_train.txt").write_text("user05_led.aedat\n")
    (root / "trials_to_test.txt").write_text("")
    with pytest.raises(DataError, match="user05_led.aedat: file missing"):
        load_dataset("dvs-gesture", tmp_path)


# ---------------------------------------------------------------- CIFAR10-DVS (AEDAT 2.0)
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck")


def _aedat2_dvs128(events: list[tuple[int, int, int, int]]) -> bytes:
    """Big-endian (address, timestamp) pairs; address = y_raw<<8 | x_raw<<1 | bit0 with the
    dataset's orientation x = 127 - y_raw, y = 127 - x_raw, p = 1 - bit0 (spikingjelly)."""
    header = b"#!AER-DAT2.0\r\n# This is a raw AE data file\r\n# created by jAER\r\n"
    body = b"".join(
        struct.pack(">II", ((127 - x) << 8) | ((127 - y) << 1) | (1 - p), t)
        for x, y, p, t in events
    )
    return header + body


def test_cifar10_dvs_aedat2_decodes_events_and_keeps_last_tenth_as_test(tmp_path: Path) -> None:
    root = tmp_path / "CIFAR10DVS"
    for label, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for i in range(10):
            ev = [(label, i, 1, 1000), (100, 35 + label, 0, 1000 + 10 * (i + 1))]
            (root / name / f"cifar10_{name}_{i}.aedat").write_bytes(_aedat2_dvs128(ev))
    splits = load_dataset("cifar10-dvs", tmp_path, timesteps=2)
    assert splits.sizes() == {"train": 72, "val": 18, "test": 10}
    assert splits.test.labels.tolist() == list(range(10))  # file 9 of each class, interleaved
    for label in range(10):
        frames = splits.test.inputs[label]
        assert frames[0, 1, 9, label] == 1  # (x=label, y=9, ON) in the first half
        assert frames[1, 0, 35 + label, 100] == 1
        assert frames.sum() == 2


def test_cifar10_dvs_truncated_event_is_malformed(tmp_path: Path) -> None:
    root = tmp_path / "CIFAR10DVS"
    for name in CLASSES:
        (root / name).mkdir(parents=True)
        (root / name / "0.aedat").write_bytes(_aedat2_dvs128([(1, 1, 1, 1)]) + b"\x00\x00")
    with pytest.raises(DataError, match="0.aedat.*truncated"):
        load_dataset("cifar10-dvs", tmp_path, limit=1)


def test_cifar10_dvs_refuses_a_file_of_another_format(tmp_path: Path) -> None:
    root = tmp_path / "CIFAR10DVS"
    for name in CLASSES:
        (root / name).mkdir(parents=True)
        (root / name / "0.aedat").write_bytes(b"#!AER-DAT3.1\r\n#!END-HEADER\r\n")
    with pytest.raises(DataError, match="not an AEDAT 2.0 file"):
        load_dataset("cifar10-dvs", tmp_path, limit=1)


class _FakeAedatDecoder:
    """Stands in for the optional ``aedat`` package: one event stream (id 0), two packets."""

    packets = [
        np.array([(10, 3, 4, True), (20, 5, 6, False)],
                 dtype=[("t", "<u8"), ("x", "<u2"), ("y", "<u2"), ("on", "?")]),
        np.array([(40, 7, 8, True)], dtype=[("t", "<u8"), ("x", "<u2"), ("y", "<u2"), ("on", "?")]),
    ]

    def __init__(self, path: str) -> None:
        assert Path(path).is_file()

    def id_to_stream(self) -> dict:
        return {0: {"type": "events"}, 1: {"type": "frame"}}

    def __iter__(self):
        yield {"stream_id": 1, "frame": None}
        for events in self.packets:
            yield {"stream_id": 0, "events": events}


def _cifar10_dvs_aedat4_tree(tmp_path: Path) -> None:
    for name in CLASSES:
        (tmp_path / "CIFAR10DVS" / name).mkdir(parents=True)
        (tmp_path / "CIFAR10DVS" / name / "0.aedat4").write_bytes(b"#!AER-DAT4.0\r\n")


def test_cifar10_dvs_aedat4_goes_through_the_aedat_decoder(tmp_path: Path, monkeypatch) -> None:
    import types

    monkeypatch.setitem(sys.modules, "aedat", types.SimpleNamespace(Decoder=_FakeAedatDecoder))
    _cifar10_dvs_aedat4_tree(tmp_path)
    splits = load_dataset("cifar10-dvs", tmp_path, timesteps=2, limit=1)
    # t 10..40 -> span 31; bin 0 holds t < 25.5: events at t=10 (ON) and t=20 (OFF)
    frames = splits.train.inputs[0]
    assert frames[0, 1, 4, 3] == 1 and frames[0, 0, 6, 5] == 1 and frames[1, 1, 8, 7] == 1
    assert frames.sum() == 3


def test_cifar10_dvs_aedat4_without_decoder_says_what_to_install(tmp_path: Path,
                                                                 monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "aedat", None)  # makes 'import aedat' raise ImportError
    _cifar10_dvs_aedat4_tree(tmp_path)
    with pytest.raises(DataError, match=r"0.aedat4: AEDAT 4 files need the optional 'aedat'"):
        load_dataset("cifar10-dvs", tmp_path, limit=1)


# ---------------------------------------------------------------- synthetic events
def test_saccade_generator_emits_ordered_events_inside_the_image() -> None:
    image = np.zeros((16, 16), dtype=np.uint8)
    image[4:12, 6:10] = 255
    ev = saccade_events(image, seed=0)
    assert len(ev) > 0
    assert ev.x.max() < 16 and ev.y.max() < 16 and np.all(np.diff(ev.t) >= 0)
    assert set(np.unique(ev.p).tolist()) == {0, 1}
    assert len(saccade_events(np.full((16, 16), 90, np.uint8))) == 0  # flat image: no change


def test_synthetic_events_are_labelled_synthetic() -> None:
    splits = load_dataset("synthetic-events", limit=2, timesteps=5)
    assert splits.info.synthetic and "SYNTHETIC" in splits.info.title
    assert splits.train.inputs.shape == (2, 5, 2, 32, 32)
    assert splits.train.inputs.sum() > 0
