"""Factories: a network from a search space + genotype, the super-network, or a zoo model.

All three return a :class:`~autosnn.core.network.SpikingNet`; :func:`from_config` rebuilds any of
them from the plain-data :class:`~autosnn.core.network.ArchConfig` stored in checkpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from torch import nn

from autosnn.core.config import PAPER_CHANNELS, STATIC_TIMESTEPS
from autosnn.core.errors import AutosnnError
from autosnn.core.layers import Cell, GAPNeuron, Head, Stem, down_layer
from autosnn.core.network import ArchConfig, SpikingNet
from autosnn.core.neuron import DEFAULT_NEURON
from autosnn.core.spaces import DEFAULT_GENOTYPE, Genotype, Slot, get_space


def _shape3(input_shape: Sequence[int]) -> tuple[int, int, int]:
    """``input_shape`` as a tuple (callers may pass a list). Only converts: the length is not
    checked here (the builders unpack it as ``C, H, W``)."""
    return cast(tuple[int, int, int], tuple(input_shape))


def _space_net(config: ArchConfig, slot_choices: list[tuple[str, ...]]) -> SpikingNet:
    space = get_space(config.name)
    # a space may own its neuron (speck: IF) and refuse widths it cannot hold: SpeckSpace.neuron_for
    C, neuron = config.channels, getattr(space, "neuron_for", lambda c: c.neuron)(config)
    stem = Stem(config.input_shape, C, neuron)
    body = nn.ModuleList()
    size = 32
    slots = iter(slot_choices)
    for item in space.layout:
        if isinstance(item, Slot):
            body.append(Cell(next(slots), C * item.cin, C * item.cout, item.stride, neuron))
            size //= item.stride
        else:
            body.append(down_layer(item.kind, neuron))
            size //= 2
    final = C * space.final_mult
    if space.gap:
        body.append(GAPNeuron(neuron))
        features = final
    else:
        features = final * size * size
    return SpikingNet(config, stem, body, Head([features], config.num_classes, neuron))


def build(
    space: str = "snn1",
    genotype: str | Genotype = DEFAULT_GENOTYPE,
    channels: int = PAPER_CHANNELS,
    num_classes: int = 10,
    input_shape: tuple[int, int, int] = (3, 32, 32),
    timesteps: int = STATIC_TIMESTEPS,
    *,
    neuron: str = DEFAULT_NEURON,
) -> SpikingNet:
    """One architecture of a search space: block names, or a registered name (default: the
    paper's AutoSNN, ``autosnn-lam0.08``)."""
    geno = get_space(space).parse(genotype)
    config = ArchConfig(
        "space", space, channels, num_classes, _shape3(input_shape), timesteps, geno, None, neuron
    )
    return _space_net(config, [(g,) for g in geno])


def build_supernet(
    space: str = "snn1",
    channels: int = PAPER_CHANNELS,
    num_classes: int = 10,
    input_shape: tuple[int, int, int] = (3, 32, 32),
    timesteps: int = STATIC_TIMESTEPS,
    *,
    candidates: tuple[str, ...] | None = None,
    neuron: str = DEFAULT_NEURON,
) -> SpikingNet:
    """The weight-sharing super-network: every slot holds every candidate with its own weights."""
    spec = get_space(space)
    if candidates is not None:
        spec = spec.with_candidates(tuple(candidates))
    config = ArchConfig(
        "supernet", space, channels, num_classes, _shape3(input_shape), timesteps, None,
        spec.candidates, neuron,
    )
    return _space_net(config, [spec.candidates] * len(spec.slots))


def build_model(
    name: str,
    channels: int = PAPER_CHANNELS,
    num_classes: int = 10,
    input_shape: tuple[int, int, int] = (3, 32, 32),
    timesteps: int = STATIC_TIMESTEPS,
    *,
    neuron: str = DEFAULT_NEURON,
) -> SpikingNet:
    """A hand-crafted baseline from the zoo (``cifarnet-fang``, ``cifarnet-wu``, ...)."""
    from autosnn.core.zoo import get_zoo_builder

    builder = get_zoo_builder(name)
    config = ArchConfig("zoo", name, channels, num_classes, _shape3(input_shape), timesteps,
                        None, None, neuron)
    return builder(config)


def from_config(config: ArchConfig) -> SpikingNet:
    """Rebuild a network from its config (the inverse of ``net.config``)."""
    if config.kind == "space":
        assert config.genotype is not None
        return build(config.name, config.genotype, config.channels, config.num_classes,
                     config.input_shape, config.timesteps, neuron=config.neuron)
    if config.kind == "supernet":
        return build_supernet(config.name, config.channels, config.num_classes,
                              config.input_shape, config.timesteps,
                              candidates=config.candidates, neuron=config.neuron)
    if config.kind == "zoo":
        return build_model(config.name, config.channels, config.num_classes,
                           config.input_shape, config.timesteps, neuron=config.neuron)
    raise AutosnnError(f"unknown architecture kind {config.kind!r}")
