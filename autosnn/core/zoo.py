"""Hand-crafted baselines of the paper's Table 3, registered by name, width as a parameter.

Every conv is bias-free and followed by BN then PLIF; all run the full T timesteps (the authors'
ResNet code ran T-1, a bug we do not copy).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from autosnn.core.layers import AvgPoolNeuron, Cell, ConvNeuron, Head, SpikeMaxPool, Stem
from autosnn.core.network import ArchConfig, SpikingNet
from autosnn.core.registry import Registry

ZooBuilder = Callable[[ArchConfig], SpikingNet]
# Hand-crafted models by name; each registers itself with ``@ZOO.register(name)``.
ZOO: Registry[ZooBuilder] = Registry("zoo model")


def list_zoo() -> list[str]:
    """Registered zoo model names."""
    return ZOO.names()


def get_zoo_builder(name: str) -> ZooBuilder:
    """The builder of zoo model ``name`` (unknown names list the known ones)."""
    return ZOO.get(name)


def _resnet(cfg: ArchConfig, plan: list[tuple[str, int, int]]) -> nn.ModuleList:
    """Body of SRB_k3 cells (and avg-pool layers) from (kind, channel multiplier, stride)."""
    C, neuron = cfg.channels, cfg.neuron
    body = nn.ModuleList()
    cin = C
    for kind, mult, stride in plan:
        if kind == "avgpool":
            body.append(AvgPoolNeuron(neuron))
            continue
        body.append(Cell(("SRB_k3",), cin, C * mult, stride, neuron))
        cin = C * mult
    return body


@ZOO.register("cifarnet-fang")
def cifarnet_fang(cfg: ArchConfig) -> SpikingNet:
    """Fang et al. 2021: 6 conv3x3 (C), max-pool after conv 3 and 6, FC C*64 -> C/2*16 -> out."""
    C, neuron = cfg.channels, cfg.neuron
    body = nn.ModuleList()
    for i in range(5):
        body.append(ConvNeuron(C, C, 3, neuron=neuron))
        if i in (1, 4):
            body.append(SpikeMaxPool(neuron))
    head = Head([C * 64, (C // 2) * 16], cfg.num_classes, neuron)
    return SpikingNet(cfg, Stem(cfg.input_shape, C, neuron), body, head)


@ZOO.register("cifarnet-wu")
def cifarnet_wu(cfg: ArchConfig) -> SpikingNet:
    """Wu et al. 2019: convs C, 2C, 4C, 8C, 4C; avg-pool + PLIF after conv 2 and 3;
    FC 4C*64 -> 8C -> 4C -> out."""
    C, neuron = cfg.channels, cfg.neuron
    body = nn.ModuleList(
        [
            ConvNeuron(C, 2 * C, neuron=neuron),
            AvgPoolNeuron(neuron),
            ConvNeuron(2 * C, 4 * C, neuron=neuron),
            AvgPoolNeuron(neuron),
            ConvNeuron(4 * C, 8 * C, neuron=neuron),
            ConvNeuron(8 * C, 4 * C, neuron=neuron),
        ]
    )
    head = Head([4 * C * 64, 8 * C, 4 * C], cfg.num_classes, neuron)
    return SpikingNet(cfg, Stem(cfg.input_shape, C, neuron), body, head)


@ZOO.register("resnet19-zheng")
def resnet19_zheng(cfg: ArchConfig) -> SpikingNet:
    """Zheng et al. 2021: SRB_k3 x8 (C,C,C,2C,2C,2C,4C,4C; strides 1,1,1,2,1,1,2,1), avg-pool +
    PLIF, FC 4C*16 -> 2C -> out."""
    plan = [("srb", m, s) for m, s in zip((1, 1, 1, 2, 2, 2, 4, 4), (1, 1, 1, 2, 1, 1, 2, 1))]
    body = _resnet(cfg, [*plan, ("avgpool", 0, 0)])
    head = Head([4 * cfg.channels * 16, 2 * cfg.channels], cfg.num_classes, cfg.neuron)
    return SpikingNet(cfg, Stem(cfg.input_shape, cfg.channels, cfg.neuron), body, head)


@ZOO.register("resnet11-lee")
def resnet11_lee(cfg: ArchConfig) -> SpikingNet:
    """Lee et al. 2020: avg-pool + PLIF, SRB_k3 (2C,4C,8C,8C; strides 1,2,1,2), FC 8C*16 -> 16C."""
    plan = [("avgpool", 0, 0)] + [("srb", m, s) for m, s in zip((2, 4, 8, 8), (1, 2, 1, 2))]
    body = _resnet(cfg, plan)
    head = Head([8 * cfg.channels * 16, 16 * cfg.channels], cfg.num_classes, cfg.neuron)
    return SpikingNet(cfg, Stem(cfg.input_shape, cfg.channels, cfg.neuron), body, head)
