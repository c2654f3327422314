"""Batching and augmentation: shapes, normalisation, the crop/flip/cutout rules, seeding."""

from __future__ import annotations

import pytest
import torch

from autosnn.data import Augment, DatasetInfo, TensorSplit, batches
from autosnn.data.augment import crop_flip, cutout


def _info(channels: int = 1, *, flip_ok: bool = True, mean: float = 0.5,
          std: float = 0.25) -> DatasetInfo:
    return DatasetInfo(name="t", title="t", input_shape=(channels, 8, 8), num_classes=3,
                       is_event=False, timesteps=8, synthetic=True, mean=(mean,) * channels,
                       std=(std,) * channels, flip_ok=flip_ok)


def _split(n: int = 10, channels: int = 1, **kw) -> TensorSplit:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, channels, 8, 8), generator=g, dtype=torch.uint8)
    return TensorSplit(x, torch.arange(n, dtype=torch.int64) % 3, _info(channels, **kw))


def test_static_batches_are_normalised_floats_in_order_without_shuffle() -> None:
    split = _split()
    out = list(batches(split, 4))
    assert [x.shape[0] for x, _ in out] == [4, 4, 2]
    x, y = out[0]
    assert x.dtype == torch.float32 and x.shape == (4, 1, 8, 8)
    want = (split.inputs[:4].float() / 255 - 0.5) / 0.25
    assert torch.allclose(x, want)
    assert y.tolist() == [0, 1, 2, 0]


def test_drop_last_drops_the_partial_batch() -> None:
    assert [len(y) for _, y in batches(_split(), 4, drop_last=True)] == [4, 4]


def test_shuffle_visits_every_sample_once_and_is_seeded() -> None:
    split = TensorSplit(torch.zeros(10, 1, 8, 8, dtype=torch.uint8), torch.arange(10),
                        _info())
    first = torch.cat([y for _, y in batches(split, 3, shuffle=True, seed=5)])
    again = torch.cat([y for _, y in batches(split, 3, shuffle=True, seed=5)])
    other = torch.cat([y for _, y in batches(split, 3, shuffle=True, seed=6)])
    assert sorted(first.tolist()) == list(range(10))
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_augmented_batches_repeat_under_the_same_seed() -> None:
    split = _split(channels=3)
    aug = Augment(crop_pad=4, flip=True, cutout=4)
    a = [x for x, _ in batches(split, 5, shuffle=True, seed=1, augment=aug)]
    b = [x for x, _ in batches(split, 5, shuffle=True, seed=1, augment=aug)]
    c = [x for x, _ in batches(split, 5, shuffle=True, seed=2, augment=aug)]
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))
    assert not all(torch.equal(p, q) for p, q in zip(a, c, strict=True))


def test_random_crop_is_a_shifted_window_of_the_zero_padded_image() -> None:
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).reshape(2, 3, 6, 6) + 1
    out = crop_flip(x, 2, False, torch.Generator().manual_seed(3))
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for b in range(2):
        windows = [(dy, dx) for dy in range(5) for dx in range(5)
                   if torch.equal(out[b], padded[b, :, dy:dy + 6, dx:dx + 6])]
        assert len(windows) == 1


def test_crop_with_flip_is_a_window_read_left_to_right_or_mirrored() -> None:
    x = torch.rand(64, 2, 6, 6) + 1
    out = crop_flip(x, 2, True, torch.Generator().manual_seed(4))
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    mirrored = 0
    for b in range(64):
        windows = [padded[b, :, dy:dy + 6, dx:dx + 6] for dy in range(5) for dx in range(5)]
        plain = any(torch.equal(out[b], win) for win in windows)
        flipped = any(torch.equal(out[b], win.flip(-1)) for win in windows)
        assert plain != flipped
        mirrored += flipped
    assert 16 < mirrored < 48


def test_random_crop_uses_every_offset_over_many_samples() -> None:
    x = torch.zeros(400, 1, 4, 4)
    x[:, :, 0, 0] = 1  # marker pixel: its position after the crop reveals the offset
    out = crop_flip(x, 1, False, torch.Generator().manual_seed(0))
    positions = {tuple(torch.nonzero(o[0]).flatten().tolist()) for o in out}
    # offsets (0..2) shift the marker to rows/cols 1, 0 or out of view
    assert {(1, 1), (0, 0), (1, 0), (0, 1), ()} <= positions


def test_flip_mirrors_about_half_of_the_samples() -> None:
    x = torch.arange(4, dtype=torch.float32).repeat(1000, 1, 1, 1)  # (1000, 1, 1, 4)
    out = crop_flip(x, 0, True, torch.Generator().manual_seed(0))
    mirrored = (out[:, 0, 0, 0] == 3).sum().item()
    kept = (out[:, 0, 0, 0] == 0).sum().item()
    assert mirrored + kept == 1000 and 400 < mirrored < 600
    assert torch.equal(out[out[:, 0, 0, 0] == 3][0, 0, 0], torch.tensor([3.0, 2, 1, 0]))


def test_cutout_zeroes_one_square_of_the_given_side_when_inside() -> None:
    x = torch.ones(300, 2, 32, 32)
    out = cutout(x, 16, torch.Generator().manual_seed(0))
    zeros = (out[:, 0] == 0).sum(dim=(1, 2))
    assert zeros.max().item() == 16 * 16  # centred well inside: a full 16x16 square
    assert zeros.min().item() >= 8 * 8  # clipped at a corner: at least a quarter remains
    assert torch.equal(out[:, 0], out[:, 1])  # the same square in every channel


def test_flip_is_skipped_for_datasets_where_mirroring_changes_the_class() -> None:
    split = _split(n=50, flip_ok=False)
    aug = Augment(crop_pad=0, flip=True, cutout=0)
    x, _ = next(iter(batches(split, 50, augment=aug)))
    plain, _ = next(iter(batches(split, 50)))
    assert torch.equal(x, plain)


def test_event_batches_are_time_first_counts_with_one_crop_for_all_frames() -> None:
    g = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 4, (6, 5, 2, 8, 8), generator=g, dtype=torch.uint8)
    info = DatasetInfo(name="e", title="e", input_shape=(2, 8, 8), num_classes=2, is_event=True,
                       timesteps=5, synthetic=True, mean=(0.0, 0.0), std=(1.0, 1.0),
                       flip_ok=True)
    split = TensorSplit(frames, torch.zeros(6, dtype=torch.int64), info)
    x, _ = next(iter(batches(split, 4)))
    assert x.shape == (5, 4, 2, 8, 8) and x.dtype == torch.float32
    assert torch.equal(x, frames[:4].float().transpose(0, 1))
    aug_x, _ = next(iter(batches(split, 4, augment=Augment(crop_pad=2, flip=False))))
    padded = torch.nn.functional.pad(frames[:4].float(), (2, 2, 2, 2))
    for b in range(4):
        hits = [(dy, dx) for dy in range(5) for dx in range(5)
                if torch.equal(aug_x[:, b], padded[b, :, :, dy:dy + 8, dx:dx + 8])]
        assert hits  # one window, shared by all 5 frames and both polarities


def test_batch_size_below_one_is_rejected() -> None:
    with pytest.raises(ValueError):
        next(iter(batches(_split(), 0)))
