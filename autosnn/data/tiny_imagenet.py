"""Tiny-ImageNet-200 from its official folder layout (64x64 RGB JPEGs, 200 classes).

The official test images carry no labels, so the labelled validation set (labels in
``val/val_annotations.txt``) serves as the test set and D_train/D_val come from the 100,000
training images. Class index = position of the wnid in ``wnids.txt``. JPEGs are decoded with
Pillow; grey-scale images are converted to RGB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from autosnn.core.config import STATIC_TIMESTEPS
from autosnn.core.errors import DataError
from autosnn.data.registry import DatasetSpec, Source, register
from autosnn.data.types import DatasetInfo

_ORIGIN = "official files: http://cs231n.stanford.edu/tiny-imagenet-200.zip"
_LAYOUT = (
    "tiny-imagenet-200/ with wnids.txt, train/<wnid>/images/<wnid>_<i>.JPEG, "
    "val/images/val_<i>.JPEG and val/val_annotations.txt"
)


def _decode(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as img:  # lazy: the header's size is checked before decoding
            if img.size != (64, 64):
                raise DataError(f"{path}: image is {img.size[0]}x{img.size[1]}, expected 64x64; "
                                f"{_ORIGIN}")
            arr = np.asarray(img.convert("RGB"))
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001  a damaged image fails in many ways inside Pillow
        # (UnidentifiedImageError, DecompressionBombError, OSError, SyntaxError, ...)
        raise DataError(f"{path}: not a readable image ({type(exc).__name__}: "
                        f"{' '.join(str(exc).split())[:120]}); expected {_LAYOUT}; {_ORIGIN}") \
            from None
    return arr.transpose(2, 0, 1)  # (3, 64, 64)


def _open_tiny(root: Path) -> Source:
    wnids_path = root / "wnids.txt"
    wnids = [w.strip() for w in wnids_path.read_text().splitlines() if w.strip()]
    if not wnids:
        raise DataError(f"{wnids_path}: empty; expected one wnid per line; {_ORIGIN}")
    class_of = {w: i for i, w in enumerate(wnids)}
    train: list[tuple[Path, int]] = []
    for wnid in wnids:
        folder = root / "train" / wnid / "images"
        if not folder.is_dir():
            raise DataError(f"{folder}: folder missing; expected {_LAYOUT}; {_ORIGIN}")
        train.extend((p, class_of[wnid]) for p in sorted(folder.glob("*.JPEG")))
    ann_path = root / "val" / "val_annotations.txt"
    if not ann_path.is_file():
        raise DataError(f"{ann_path}: file missing; expected {_LAYOUT}; {_ORIGIN}")
    test: list[tuple[Path, int]] = []
    for n, line in enumerate(ann_path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2 or fields[1] not in class_of:
            raise DataError(
                f"{ann_path}: line {n} is not '<file>\\t<wnid>\\t<box>' with a wnid from "
                f"wnids.txt; {_ORIGIN}"
            )
        test.append((root / "val" / "images" / fields[0], class_of[fields[1]]))
    samples = {"train": train, "test": test}

    def load(part: str, indices: np.ndarray, timesteps: int) -> tuple[torch.Tensor, torch.Tensor]:
        chosen = [samples[part][i] for i in indices.tolist()]
        images = np.zeros((len(chosen), 3, 64, 64), dtype=np.uint8)
        for k, (path, _) in enumerate(chosen):
            images[k] = _decode(path)
        labels = torch.tensor([c for _, c in chosen], dtype=torch.int64)
        return torch.from_numpy(images), labels

    return Source(root, len(train), len(test), load, classes=tuple(wnids))


register(
    DatasetSpec(
        name="tiny-imagenet",
        title="Tiny-ImageNet-200",
        layout=_LAYOUT,
        origin=_ORIGIN,
        subdirs=("tiny-imagenet-200",),
        markers=("wnids.txt",),
        open=_open_tiny,
        info=DatasetInfo(
            name="tiny-imagenet", title="Tiny-ImageNet-200 (val used as test)",
            input_shape=(3, 64, 64), num_classes=200, is_event=False, timesteps=STATIC_TIMESTEPS,
            synthetic=False, mean=(0.4802, 0.4481, 0.3975), std=(0.2770, 0.2691, 0.2821),
            flip_ok=True,
        ),
    )
)
