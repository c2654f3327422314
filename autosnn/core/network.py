"""The spiking network: stem -> body -> head, with its architecture config and spike accounting.

Every network autosnn builds (searched genotypes, the super-network, the zoo) is a
:class:`SpikingNet`, so training, spike counting, export and checkpoints have one code path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from autosnn.core.config import PAPER_CHANNELS, STATIC_TIMESTEPS
from autosnn.core.errors import AutosnnError
from autosnn.core.layers import Cell, Head, Stem
from autosnn.core.neuron import DEFAULT_NEURON, NEURONS, SpikingLayer, timesteps
from autosnn.core.spaces import SpaceSpec, get_space


@dataclass(frozen=True)
class ArchConfig:
    """Everything needed to rebuild a network, as plain data (stored in checkpoints).

    ``kind`` is ``space`` (``name`` = space, ``genotype`` set; or ``supernet`` with every
    candidate in each slot) or ``zoo`` (``name`` = zoo model).
    """

    kind: str
    name: str
    channels: int = PAPER_CHANNELS
    num_classes: int = 10
    input_shape: tuple[int, int, int] = (3, 32, 32)
    timesteps: int = STATIC_TIMESTEPS
    genotype: tuple[str, ...] | None = None
    candidates: tuple[str, ...] | None = None
    neuron: str = DEFAULT_NEURON

    def __post_init__(self) -> None:
        """Every way in (builders, checkpoints, winner files) gets the same checks."""
        if self.kind not in ("space", "supernet", "zoo"):
            raise AutosnnError(f"kind must be space, supernet or zoo, got {self.kind!r}")
        if not isinstance(self.channels, int) or self.channels < 2 or self.channels % 2:
            raise AutosnnError(f"channels must be an even number >= 2, got {self.channels!r}")
        if not isinstance(self.num_classes, int) or self.num_classes < 1:
            raise AutosnnError(f"num_classes must be >= 1, got {self.num_classes!r}")
        if not isinstance(self.timesteps, int) or self.timesteps < 1:
            raise AutosnnError(f"timesteps must be >= 1, got {self.timesteps!r}")
        if self.neuron not in NEURONS:
            raise AutosnnError(f"neuron must be one of {', '.join(NEURONS.names())}, got "
                               f"{self.neuron!r}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> ArchConfig:
        d = dict(d)
        d["input_shape"] = tuple(d["input_shape"])
        for key in ("genotype", "candidates"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        return ArchConfig(**d)


@dataclass
class SpikeReport:
    """Spikes per sample of the last forward: per spiking layer (forward order) and in total."""

    per_layer: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return float(sum(self.per_layer.values()))


class SpikingNet(nn.Module):
    """A spiking CNN: input ``(N, C, H, W)`` (static) or ``(T, N, C, H, W)`` (events) ->
    per-class firing rates ``(N, classes)``."""

    def __init__(self, config: ArchConfig, stem: Stem, body: nn.ModuleList, head: Head) -> None:
        super().__init__()
        self.config = config
        self.stem = stem
        self.body = body
        self.head = head
        self.input_recorder: InputRecorder | None = None

    # -- architecture ---------------------------------------------------------------------
    @property
    def timesteps(self) -> int:
        return self.config.timesteps

    @property
    def cells(self) -> list[Cell]:
        return [m for m in self.body if isinstance(m, Cell)]

    @property
    def genotype(self) -> tuple[str, ...]:
        """Active block per slot (empty for zoo models)."""
        return tuple(c.active for c in self.cells)

    def search_space(self) -> SpaceSpec:
        """The space whose architectures this network's slots hold (for a super-network: its
        candidate set), as the search sees it."""
        if self.config.kind == "zoo":
            raise AutosnnError(f"zoo model {self.config.name!r} has no search space")
        spec = get_space(self.config.name)
        if self.config.candidates:
            spec = spec.with_candidates(tuple(self.config.candidates))
        return spec

    def set_genotype(self, genotype: tuple[str, ...]) -> None:
        """Choose the active path (super-network); each name must be held by its slot."""
        cells = self.cells
        if len(genotype) != len(cells):
            raise AutosnnError(f"genotype has {len(genotype)} slots; network has {len(cells)}")
        for i, (cell, name) in enumerate(zip(cells, genotype), start=1):
            if name not in cell.ops:
                raise AutosnnError(
                    f"genotype slot {i}: block {name!r} not in this network; "
                    f"allowed: {', '.join(cell.ops)}"
                )
            cell.active = name

    # -- forward --------------------------------------------------------------------------
    # Every pass over the network (training, evaluation, the shared-prefix search evaluator and
    # the per-timestep baseline) is made of these three steps, with T passed explicitly.
    def timesteps_of(self, x: Tensor) -> int:
        """T of an input: the config's T for static ``(N, C, H, W)``, the leading dim of event
        input ``(T, N, C, H, W)``; the shape is checked against the network's."""
        want = tuple(self.config.input_shape)
        if x.dim() == 4:
            T = self.timesteps
        elif x.dim() == 5:
            T = x.shape[0]
        else:
            raise AutosnnError(
                f"input of shape {tuple(x.shape)}: expected (N, C, H, W) or (T, N, C, H, W)"
            )
        if tuple(x.shape[-3:]) != want:
            raise AutosnnError(
                f"input of shape {tuple(x.shape)}: the network was built for C,H,W = {want}"
            )
        return T

    def run_stem(self, x: Tensor, T: int) -> Tensor:
        """Input -> stem spikes, time-folded ``(T*N, C, 32, 32)``."""
        if self.input_recorder is not None:
            self.input_recorder.add(x, T)
        with timesteps(T):
            return self.stem(self.stem.current(x, T))

    def run_segment(self, layers: Iterable[nn.Module], h: Tensor, T: int) -> Tensor:
        """Run body layers (any contiguous run of ``self.body``) on time-folded spikes."""
        with timesteps(T):
            for layer in layers:
                h = layer(h)
        return h

    def run_head(self, h: Tensor, T: int) -> Tensor:
        """Body output -> per-class firing rates ``(N, classes)``."""
        with timesteps(T):
            return self.head(h, T)

    def forward(self, x: Tensor) -> Tensor:
        T = self.timesteps_of(x)
        return self.run_head(self.run_segment(self.body, self.run_stem(x, T), T), T)

    # -- spikes ---------------------------------------------------------------------------
    def active_modules(self) -> list[tuple[str, nn.Module]]:
        """``named_modules()`` without the blocks a super-network's slots hold but do not use."""
        inactive = tuple(
            f"{cname}.ops.{k}."
            for cname, cell in self.named_modules()
            if isinstance(cell, Cell)
            for k in cell.ops
            if k != cell.active
        )
        return [(n, m) for n, m in self.named_modules() if not (inactive and n.startswith(inactive))]

    def active_spiking_layers(self) -> list[tuple[str, SpikingLayer]]:
        """Spiking layers on the active path, in forward order, with their module names."""
        return [(n, m) for n, m in self.active_modules()
                if isinstance(m, SpikingLayer) and m.counts_spikes]

    def spike_report(self) -> SpikeReport:
        """Per-layer spikes per sample of the last forward (one host sync for all layers)."""
        layers = self.active_spiking_layers()
        if not layers:  # the ANN variant: nothing spikes
            return SpikeReport({})
        spikes = [m.spikes for _, m in layers if m.spikes is not None]
        if len(spikes) != len(layers):
            raise RuntimeError("no forward pass has been run on this path yet")
        values = torch.stack(spikes).cpu().tolist()
        return SpikeReport(dict(zip([n for n, _ in layers], values)))

    def total_spikes(self) -> Tensor:
        """Total spikes per sample of the last forward, as a 0-dim tensor (no host sync)."""
        layers = self.active_spiking_layers()
        if not layers:  # the ANN variant: nothing spikes
            return torch.zeros(())
        spikes = [m.spikes for _, m in layers if m.spikes is not None]
        if len(spikes) != len(layers):  # the TypeError torch.stack raised on a None
            raise TypeError("no forward pass has been run on this path yet")
        return torch.stack(spikes).sum()

    def spiking_layers(self) -> list[SpikingLayer]:
        """Every spiking layer, active path or not."""
        return [m for m in self.modules() if isinstance(m, SpikingLayer)]

    def record_activity(self, enabled: bool = True) -> None:
        """Turn per-neuron, per-timestep spike counting on/off (and clear what was counted);
        the input is recorded too (:class:`InputRecorder`)."""
        for m in self.spiking_layers():
            m.record_activity = enabled
            m.reset_activity()
        self.input_recorder = InputRecorder() if enabled else None

    def activity(self) -> dict[str, Tensor]:
        """Per-neuron spike counts per timestep per sample, ``(T, *neuron_shape)`` (averaged over
        samples), by module name, plus ``input`` (the input's events, see :class:`InputRecorder`)."""
        out = {}
        for name, m in self.active_spiking_layers():
            if m.activity is not None and m.activity_samples:
                out[name] = m.activity / m.activity_samples
        rec = self.input_recorder
        if rec is not None and rec.counts is not None and rec.samples:
            out["input"] = rec.counts / rec.samples
        return out


def input_events(x: Tensor, T: int) -> Tensor:
    """Input events per timestep per input neuron, summed over the batch: ``(T, C, H, W)``.

    Event input ``(T, N, C, H, W)`` counts its events (the frame values). A static image is
    presented at every timestep, so each non-zero input value is one graded message per
    timestep from the host: ``(x != 0)`` repeated T times.
    """
    x = x.detach().float()
    if x.dim() == 4:
        return (x != 0).float().sum(0).unsqueeze(0).expand(T, *x.shape[1:])
    return x.abs().sum(1)


class InputRecorder:
    """Per-timestep input events per input neuron (:func:`input_events`), summed over samples."""

    def __init__(self) -> None:
        self.counts: Tensor | None = None
        self.samples = 0

    def add(self, x: Tensor, T: int) -> None:
        per_step = input_events(x, T)
        self.counts = per_step.clone() if self.counts is None else self.counts + per_step
        self.samples += x.shape[0] if x.dim() == 4 else x.shape[1]
