"""Macro-level layers shared by the search spaces and the zoo: stems, down-sampling, cells, head.

All work on time-folded tensors ``(T*N, ...)`` except :class:`Head`'s voting, which un-folds time
to produce firing rates.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from autosnn.core.blocks import ConvBN, make_block
from autosnn.core.errors import AutosnnError
from autosnn.core.neuron import DEFAULT_NEURON, SpikingLayer, make_neuron
from autosnn.core.registry import Registry


class SpikeMaxPool(SpikingLayer):
    """2x2 max-pool on spikes. Its outputs are spikes and count as such (paper's convention);
    in the ANN variant (``neuron="relu"``) they are activations and count nothing."""

    def __init__(self, neuron: str = DEFAULT_NEURON) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(2)
        self.counts_spikes = neuron != "relu"

    def forward(self, x: Tensor) -> Tensor:
        out = self.pool(x)
        self._account(out)
        return out


class AvgPoolNeuron(nn.Module):
    """2x2 average pooling of spikes followed by a neuron (SNN_4, CIFARNet-Wu, the ResNets).

    The pooled value is scaled by the window area, i.e. the neuron receives the spike *count* of
    the window (sum pooling). A plain average of binary spikes is at most 1, and a PLIF with
    V_th = 1 and decaying input charged by X <= 1 only approaches the threshold
    (H_t = 1 - (1 - k)^t < 1): it would never fire and silence every layer after it, while the
    paper reports working SNN_2/SNN_4 networks. The layer stays parameter-free.
    """

    def __init__(self, neuron: str = DEFAULT_NEURON) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(2)
        self.lif = make_neuron(neuron)

    def forward(self, x: Tensor) -> Tensor:
        return self.lif(self.pool(x) * 4.0)


class GAPNeuron(nn.Module):
    """Global pooling of spikes followed by a neuron (SNN_2): like :class:`AvgPoolNeuron`, the
    neuron receives the window's spike count (average times H*W), so that it can fire."""

    def __init__(self, neuron: str = DEFAULT_NEURON) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.lif = make_neuron(neuron)

    def forward(self, x: Tensor) -> Tensor:
        return self.lif(self.pool(x) * float(x.shape[-2] * x.shape[-1]))


class ConvNeuron(nn.Module):
    """conv-BN-neuron, the unit of the stems and the hand-crafted CIFARNets."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, neuron: str = DEFAULT_NEURON):
        super().__init__()
        self.conv = ConvBN(cin, cout, k, stride)
        self.lif = make_neuron(neuron)

    def forward(self, x: Tensor) -> Tensor:
        return self.lif(self.conv(x))


class Cell(nn.Module):
    """A TBD slot. Holds one block (a plain network) or every candidate (the super-network);
    ``active`` names the block used in forward."""

    def __init__(
        self, names: tuple[str, ...], cin: int, cout: int, stride: int, neuron: str
    ) -> None:
        super().__init__()
        self.ops = nn.ModuleDict({n: make_block(n, cin, cout, stride, neuron) for n in names})
        self.active = names[0]

    def forward(self, x: Tensor) -> Tensor:
        return self.ops[self.active](x)


# Fixed down-sampling layers of a backbone, by name: (neuron kind) -> module.
DOWNSAMPLING: Registry[Callable[[str], nn.Module]] = Registry("down-sampling layer")
DOWNSAMPLING.add("maxpool", SpikeMaxPool)
DOWNSAMPLING.add("avgpool", AvgPoolNeuron)


def down_layer(kind: str, neuron: str) -> nn.Module:
    """The fixed down-sampling layer of a backbone."""
    return DOWNSAMPLING.get(kind)(neuron)


SUPPORTED_INPUTS = "Cx32x32 (C = 1, 2 or 3), 3x64x64, 2x128x128, or 2x34x34 (N-MNIST, centre-cropped)"


class Stem(nn.Module):
    """Input stem reaching C x 32 x 32.

    - ``Cx32x32``: conv3x3 -> BN -> PLIF.
    - ``Cx64x64`` (Tiny-ImageNet): + maxpool, conv3x3 (C->C) + BN + PLIF.
    - ``Cx128x128`` (DVS): + maxpool, conv3x3 + BN + PLIF, maxpool.
    - ``2x34x34`` (N-MNIST): centre-cropped to 32x32 first (the outer pixel ring is dropped).

    A static input ``(N, C, H, W)`` goes through the first conv+BN once; that current is presented
    at every timestep. Event input ``(T, N, C, H, W)`` feeds one frame per timestep.
    """

    def __init__(self, input_shape: tuple[int, int, int], channels: int, neuron: str) -> None:
        super().__init__()
        cin, h, w = input_shape
        if h != w or h not in (32, 34, 64, 128):
            raise AutosnnError(
                f"input shape {cin}x{h}x{w} is not supported; expected {SUPPORTED_INPUTS}"
            )
        self.crop = 1 if h == 34 else 0
        self.conv = ConvBN(cin, channels, 3)
        self.lif = make_neuron(neuron)
        extra: list[nn.Module] = []
        if h == 64:
            extra = [SpikeMaxPool(neuron), ConvNeuron(channels, channels, 3, neuron=neuron)]
        elif h == 128:
            extra = [SpikeMaxPool(neuron), ConvNeuron(channels, channels, 3, neuron=neuron),
                     SpikeMaxPool(neuron)]
        self.extra = nn.Sequential(*extra)

    def current(self, x: Tensor, T: int) -> Tensor:
        """Stem conv+BN output, time-folded ``(T*N, C, 32, 32)``: the first neurons' input."""
        if self.crop:
            x = x[..., self.crop : -self.crop, self.crop : -self.crop]
        if x.dim() == 4:
            cur = self.conv(x)
            fmt = (
                torch.channels_last
                if cur.is_contiguous(memory_format=torch.channels_last) and not cur.is_contiguous()
                else torch.contiguous_format
            )
            return cur.unsqueeze(0).expand(T, *cur.shape).flatten(0, 1).contiguous(
                memory_format=fmt
            )
        return self.conv(x.flatten(0, 1))

    def forward(self, cur: Tensor) -> Tensor:
        return self.extra(self.lif(cur))


class Head(nn.Module):
    """Flatten -> FC layers (each followed by a neuron) -> voting.

    The last FC has ``10 * classes`` output neurons; voting averages each group of 10 and then
    over time, giving per-class firing rates ``(N, classes)``.
    """

    def __init__(self, features: list[int], num_classes: int, neuron: str) -> None:
        super().__init__()
        dims = [*features, 10 * num_classes]
        self.fcs = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(dims, dims[1:]))
        self.lifs = nn.ModuleList(make_neuron(neuron) for _ in self.fcs)
        self.num_classes = num_classes

    def forward(self, x: Tensor, T: int) -> Tensor:
        x = x.flatten(1)
        for fc, lif in zip(self.fcs, self.lifs):
            x = lif(fc(x))
        n = x.shape[0] // T
        votes = x.float().reshape(T, n, self.num_classes, 10).mean(dim=3)  # (T, N, classes)
        return votes.mean(dim=0)
