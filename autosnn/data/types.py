"""The in-memory containers every dataset loader returns.

Samples stay in their compact on-disk dtype (uint8 pixels, uint8 event counts) so a whole training
set fits in memory; conversion to normalised floats happens per batch in :mod:`autosnn.data.loader`,
where it is cheap and can run on the training device.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class DatasetInfo:
    """What a model and a report need to know about a dataset, without touching its samples.

    ``input_shape`` is per timestep ``(C, H, W)``: for event data ``C == 2`` (polarities).
    ``mean``/``std`` are per channel in ``[0, 1]`` pixel units for static images; event counts are
    fed unnormalised (``mean 0, std 1``). ``flip_ok`` is False where a mirror image changes the
    class (digits, left/right-hand gestures).
    """

    name: str
    title: str
    input_shape: tuple[int, int, int]
    num_classes: int
    is_event: bool
    timesteps: int
    synthetic: bool
    mean: tuple[float, ...]
    std: tuple[float, ...]
    flip_ok: bool
    classes: tuple[str, ...] = ()
    source: str = ""
    # Pixels of zero padding per side added when loading (stored smaller than ``input_shape``).
    pad: int = 0

    def __post_init__(self) -> None:
        if len(self.mean) != self.input_shape[0] or len(self.std) != self.input_shape[0]:
            raise ValueError(
                f"{self.name}: mean/std need one value per channel ({self.input_shape[0]})"
            )
        if self.num_classes < 1 or self.timesteps < 1:
            raise ValueError(f"{self.name}: num_classes and timesteps must be >= 1")


@dataclass(frozen=True)
class TensorSplit:
    """One split held in memory: ``inputs[i]`` is sample ``i``, ``labels[i]`` its class.

    Static images: ``inputs`` uint8 ``(N, C, H, W)``. Event data: uint8 counts ``(N, T, 2, H, W)``
    (saturating at 255). ``labels`` int64 ``(N,)``. Usable as a ``torch.utils.data.Dataset``.
    ``info`` travels with the split so :func:`autosnn.data.batches` can normalise it alone.
    """

    inputs: torch.Tensor
    labels: torch.Tensor
    info: DatasetInfo | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.inputs.shape[0] != self.labels.shape[0]:
            raise ValueError(
                f"inputs ({self.inputs.shape[0]}) and labels ({self.labels.shape[0]}) differ in length"
            )
        if self.labels.dtype != torch.int64:
            raise ValueError(f"labels must be int64, got {self.labels.dtype}")

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.inputs[index], self.labels[index]

    def select(self, index: slice | torch.Tensor) -> TensorSplit:
        """The samples ``index`` picks (a slice or index tensor), with the same ``info``."""
        return TensorSplit(self.inputs[index], self.labels[index], info=self.info)


@dataclass(frozen=True)
class SplitIndices:
    """Which samples of the official training set went to D_train and D_val (and of the test set).

    Stored so every output (checkpoint, search log) can name exactly the data it saw; redrawing
    with the same ``seed`` and sizes gives the same indices.
    """

    seed: int
    train: torch.Tensor  # (N_train,) int64, indices into the official training set
    val: torch.Tensor  # (N_val,) int64, indices into the official training set
    test: torch.Tensor  # (N_test,) int64, indices into the official test set

    def to_dict(self) -> dict[str, object]:
        """Plain-JSON form for output files."""
        return {
            "seed": self.seed,
            "train": self.train.tolist(),
            "val": self.val.tolist(),
            "test": self.test.tolist(),
        }


@dataclass(frozen=True)
class DatasetSplits:
    """D_train / D_val (8:2 from the official training set) and the untouched official test set."""

    train: TensorSplit
    val: TensorSplit
    test: TensorSplit
    info: DatasetInfo
    split_indices: SplitIndices = field(repr=False)

    def sizes(self) -> dict[str, int]:
        """Number of samples per split."""
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}
