"""Mini-batches from an in-memory split: index, move, convert to float, augment, normalise.

Samples stay uint8 in host memory; each batch is gathered, moved to ``device`` and only then
converted, so the per-batch cost is a few small tensor ops (see ``bench/data.py``).
Static batches are ``(B, C, H, W)``; event batches are time-first ``(T, B, 2, H, W)``, the
multi-step convention of the network (spikingjelly).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from autosnn.data.augment import Augment, crop_flip, cutout
from autosnn.data.types import TensorSplit


def batches(
    split: TensorSplit,
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: int = 0,
    device: torch.device | str = "cpu",
    augment: Augment | None = None,
    drop_last: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(inputs, labels)`` batches for one pass over ``split``.

    Static images: float ``(B, C, H, W)``, scaled to [0, 1], cropped/flipped, normalised with the
    dataset's mean/std, then cut out (cutout after normalisation, as DeVries & Taylor).
    Event frames: float counts ``(T, B, 2, H, W)``, augmented alike, not normalised.
    ``seed`` fixes both the shuffle order and the augmentation draws; pass ``base + epoch`` for a
    new order each epoch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    info = split.info
    is_event = split.inputs.dim() == 5
    generator = torch.Generator().manual_seed(seed)
    n = len(split)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    device = torch.device(device)
    channels = split.inputs.shape[1] if not is_event else 0
    if not is_event and info is not None:
        mean = torch.tensor(info.mean, device=device).view(1, -1, 1, 1)
        std = torch.tensor(info.std, device=device).view(1, -1, 1, 1)
    else:
        mean = torch.zeros(1, max(channels, 1), 1, 1, device=device)
        std = torch.ones_like(mean)
    flip = augment is not None and augment.flip and (info is None or info.flip_ok)
    labels_all = split.labels
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start : start + batch_size]
        x = split.inputs[idx].to(device, non_blocking=True)
        y = labels_all[idx].to(device, non_blocking=True)
        if is_event:
            b, t, c, h, w = x.shape
            x = x.float().reshape(b, t * c, h, w)  # one crop/flip/cutout for all T frames
        else:
            x = x.float().div_(255.0)
        if augment is not None:
            x = crop_flip(x, augment.crop_pad, flip, generator)
        if not is_event:
            x = (x - mean) / std
        if augment is not None:
            x = cutout(x, augment.cutout, generator)
        if is_event:
            x = x.reshape(b, t, c, h, w).transpose(0, 1)  # (T, B, 2, H, W)
        yield x, y
