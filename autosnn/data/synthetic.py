"""Synthetic data for tests only: never a stand-in for a real dataset, and always labelled so.

- ``synthetic``: tiny labelled 3x32x32 uint8 images, a class-dependent pattern plus noise, so a
  model can just about learn it in a smoke test.
- ``synthetic-events``: the same images turned into event streams by :func:`saccade_events`, a
  crude imitation of how N-MNIST was recorded (a sensor moved in three saccades over a static
  image; a pixel fires when its brightness changes by more than a threshold).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from autosnn.core.config import EVENT_TIMESTEPS, STATIC_TIMESTEPS
from autosnn.data.events import Events, events_to_frames
from autosnn.data.registry import DatasetSpec, Source, register
from autosnn.data.types import DatasetInfo

SIZE = 32
NUM_CLASSES = 10
N_TRAIN = 200
N_TEST = 50
# Triangle of three saccades (pixels), as N-MNIST: right-down, left-down, back up.
SACCADE_PATH = ((0.0, 0.0), (1.75, 3.5), (3.5, 0.0), (0.0, 0.0))


def synthetic_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uint8 images (n, 3, 32, 32) and labels; class c is a bright bar at row 3c + noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, NUM_CLASSES, size=n)
    images = rng.integers(0, 64, size=(n, 3, SIZE, SIZE))
    for k, c in enumerate(labels):
        images[k, c % 3, 3 * c : 3 * c + 3, :] += 160
    return images.astype(np.uint8), labels.astype(np.int64)


def saccade_events(
    image: np.ndarray,
    *,
    steps_per_saccade: int = 8,
    saccade_us: int = 100_000,
    threshold: float = 0.15,
    seed: int = 0,
) -> Events:
    """Events a DVS would emit watching ``image`` (H, W, uint8) while moving along three saccades.

    The image is shifted (bilinear) along :data:`SACCADE_PATH`; between consecutive positions a
    pixel emits one event per ``threshold`` of log-intensity change (ON if brighter), timestamps
    spread uniformly inside the step with seeded jitter. Sorted by time.
    """
    rng = np.random.default_rng(seed)
    h, w = image.shape
    log_img = np.log1p(image.astype(np.float64) / 255.0 * 10.0)
    positions: list[tuple[float, float]] = []
    for (x0, y0), (x1, y1) in zip(SACCADE_PATH[:-1], SACCADE_PATH[1:], strict=True):
        for s in range(steps_per_saccade):
            f = s / steps_per_saccade
            positions.append((x0 + f * (x1 - x0), y0 + f * (y1 - y0)))
    positions.append(SACCADE_PATH[-1])
    step_us = saccade_us // steps_per_saccade
    xs, ys, ts, ps = [], [], [], []
    prev = _shift(log_img, *positions[0])
    for k, pos in enumerate(positions[1:]):
        cur = _shift(log_img, *pos)
        delta = cur - prev
        n_events = np.floor(np.abs(delta) / threshold).astype(np.int64)
        yy, xx = np.nonzero(n_events)
        reps = n_events[yy, xx]
        yy, xx = np.repeat(yy, reps), np.repeat(xx, reps)
        xs.append(xx)
        ys.append(yy)
        ps.append((delta[yy, xx] > 0).astype(np.int64))
        ts.append(k * step_us + rng.integers(0, step_us, size=yy.size))
        prev = cur
    t = np.concatenate(ts)
    order = np.argsort(t, kind="stable")
    return Events.of(np.concatenate(xs)[order], np.concatenate(ys)[order], t[order],
                     np.concatenate(ps)[order])


def _shift(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``img`` translated by (dx, dy) pixels with bilinear interpolation and edge replication."""
    h, w = img.shape
    yy = np.clip(np.arange(h) - dy, 0, h - 1)
    xx = np.clip(np.arange(w) - dx, 0, w - 1)
    y0, x0 = np.floor(yy).astype(int), np.floor(xx).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (yy - y0)[:, None], (xx - x0)[None, :]
    top = img[y0][:, x0] * (1 - fx) + img[y0][:, x1] * fx
    bottom = img[y1][:, x0] * (1 - fx) + img[y1][:, x1] * fx
    return top * (1 - fy) + bottom * fy


def _open_synthetic(root: Path) -> Source:
    parts = {"train": synthetic_images(N_TRAIN, seed=1), "test": synthetic_images(N_TEST, seed=2)}

    def load(part: str, indices: np.ndarray, timesteps: int) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = parts[part]
        return torch.from_numpy(images[indices].copy()), torch.from_numpy(labels[indices].copy())

    return Source(root, N_TRAIN, N_TEST, load)


def _open_synthetic_events(root: Path) -> Source:
    parts = {"train": synthetic_images(N_TRAIN, seed=1), "test": synthetic_images(N_TEST, seed=2)}

    def load(part: str, indices: np.ndarray, timesteps: int) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = parts[part]
        frames = np.zeros((len(indices), timesteps, 2, SIZE, SIZE), dtype=np.uint8)
        for k, i in enumerate(indices.tolist()):
            grey = images[i].mean(axis=0).astype(np.uint8)
            frames[k] = events_to_frames(saccade_events(grey, seed=i), timesteps, SIZE, SIZE)
        return torch.from_numpy(frames), torch.from_numpy(labels[indices].copy())

    return Source(root, N_TRAIN, N_TEST, load)


_NOTE = "generated in memory for tests; not a real dataset"
register(
    DatasetSpec(
        name="synthetic",
        title="SYNTHETIC images",
        layout="nothing (generated)",
        origin=_NOTE,
        subdirs=(),
        markers=(),
        open=_open_synthetic,
        needs_files=False,
        info=DatasetInfo(
            name="synthetic", title="SYNTHETIC random images (tests only, not a real dataset)",
            input_shape=(3, SIZE, SIZE), num_classes=NUM_CLASSES, is_event=False, timesteps=STATIC_TIMESTEPS,
            synthetic=True, mean=(0.25, 0.25, 0.25), std=(0.2, 0.2, 0.2), flip_ok=True,
        ),
    )
)
register(
    DatasetSpec(
        name="synthetic-events",
        title="SYNTHETIC saccade events",
        layout="nothing (generated)",
        origin=_NOTE,
        subdirs=(),
        markers=(),
        open=_open_synthetic_events,
        needs_files=False,
        info=DatasetInfo(
            name="synthetic-events",
            title="SYNTHETIC saccade events from random images (tests only, not a real dataset)",
            input_shape=(2, SIZE, SIZE), num_classes=NUM_CLASSES, is_event=True, timesteps=EVENT_TIMESTEPS,
            synthetic=True, mean=(0.0, 0.0), std=(1.0, 1.0), flip_ok=True,
        ),
    )
)
