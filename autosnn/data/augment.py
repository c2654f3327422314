"""Training augmentation as batched tensor ops (no torchvision), seeded, on any device.

The paper's recipe for static images: pad 4 and random-crop back to the input size, random
horizontal flip, and (for retraining) cutout of a 16x16 square. Random parameters are drawn from a
CPU ``torch.Generator`` and then moved to the batch's device, so a seed gives the same
augmentation on CPU and GPU. Event frames ``(B, T, 2, H, W)`` are augmented with one crop/flip/
cutout per sample shared by all T frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Augment:
    """Augmentation settings; ``Augment()`` is the paper's search-time recipe (no cutout).

    ``flip`` is ignored for datasets whose ``info.flip_ok`` is False (digits, gestures), where a
    mirror image would change the label. ``cutout`` is the side of the zeroed square (0 = off).
    """

    crop_pad: int = 4
    flip: bool = True
    cutout: int = 0

    def __post_init__(self) -> None:
        if self.crop_pad < 0 or self.cutout < 0:
            raise ValueError("crop_pad and cutout must be >= 0")


def crop_flip(x: torch.Tensor, pad: int, flip: bool, generator: torch.Generator) -> torch.Tensor:
    """Random crop of the ``pad``-zero-padded ``x`` (B, C, H, W), mirrored with probability 1/2.

    Both are one ``gather`` over precomputed pixel indices (a mirrored crop is the crop window
    read right to left), which is several times faster than indexing samples one by one.
    Draw order: y offsets, x offsets (if ``pad``), then the flip coin (if ``flip``).
    """
    if pad == 0 and not flip:
        return x
    b, c, h, w = x.shape
    hp, wp = h + 2 * pad, w + 2 * pad
    src = torch.nn.functional.pad(x, (pad, pad, pad, pad)) if pad else x  # (B, C, Hp, Wp)
    dev = x.device
    if pad:
        off_y = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(dev)
        off_x = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(dev)
    else:
        off_y = off_x = torch.zeros(b, dtype=torch.int64, device=dev)
    cols = torch.arange(w, device=dev).expand(b, w)  # (B, W)
    if flip:
        mirrored = (torch.rand(b, generator=generator) < 0.5).to(dev)
        cols = torch.where(mirrored[:, None], w - 1 - cols, cols)
    rows = off_y[:, None] + torch.arange(h, device=dev)  # (B, H)
    cols = off_x[:, None] + cols  # (B, W)
    index = (rows[:, :, None] * wp + cols[:, None, :]).reshape(b, 1, h * w).expand(b, c, h * w)
    return src.reshape(b, c, hp * wp).gather(2, index).view(b, c, h, w)


def cutout(x: torch.Tensor, length: int, generator: torch.Generator) -> torch.Tensor:
    """Zero a ``length`` x ``length`` square per sample, centre uniform over the image.

    As DeVries & Taylor (2017): the square is clipped at the border, so near edges less is cut.
    """
    if length == 0:
        return x
    b, _, h, w = x.shape
    cy = torch.randint(0, h, (b,), generator=generator).to(x.device)
    cx = torch.randint(0, w, (b,), generator=generator).to(x.device)
    half = length // 2
    ys = torch.arange(h, device=x.device)[None, :]
    xs = torch.arange(w, device=x.device)[None, :]
    in_rows = (ys >= (cy[:, None] - half)) & (ys < (cy[:, None] + length - half))  # (B, H)
    in_cols = (xs >= (cx[:, None] - half)) & (xs < (cx[:, None] + length - half))  # (B, W)
    keep = ~(in_rows[:, :, None] & in_cols[:, None, :])  # (B, H, W)
    return x * keep[:, None].to(x.dtype)
