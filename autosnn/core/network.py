"""The spiking network: stem -> body -> head, with its architecture config and spike accounting.

Every network autosnn builds (searched genotypes, the super-network, the zoo) is a
:class:`SpikingNet`, so training, spike counting, export and checkpoints have one code path.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from autosnn.core.errors import AutosnnError
from autosnn.core.layers import Cell, Head, Stem
from autosnn.core.neuron import SpikingLayer


@dataclass(frozen=True)
class ArchConfig:
    """Everything needed to rebuild a network, as plain data (stored in checkpoints).

    ``kind`` is ``space`` (``name`` = space, ``genotype`` set; or ``supernet`` with every
    candidate in each slot) or ``zoo`` (``name`` = zoo model).
    """

    kind: str
    name: str
    channels: int = 16
    num_classes: int = 10
    input_shape: tuple[int, int, int] = (3, 32, 32)
    timesteps: int = 8
    genotype: tuple[str, ...] | None = None
    candidates: tuple[str, ...] | None = None
    neuron: str = "plif"

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
        self._spiking = [m for m in self.modules() if isinstance(m, SpikingLayer)]

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
    def _check_input(self, x: Tensor) -> int:
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

    def forward(self, x: Tensor) -> Tensor:
        T = self._check_input(x)
        for m in self._spiking:
            m.T = T
        h = self.stem(self.stem.current(x, T))
        for layer in self.body:
            h = layer(h)
        return self.head(h, T)

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
        if any(m.spikes is None for _, m in layers):
            raise RuntimeError("no forward pass has been run on this path yet")
        values = torch.stack([m.spikes for _, m in layers]).cpu().tolist()  # type: ignore[misc]
        return SpikeReport(dict(zip([n for n, _ in layers], values)))

    def total_spikes(self) -> Tensor:
        """Total spikes per sample of the last forward, as a 0-dim tensor (no host sync)."""
        layers = self.active_spiking_layers()
        if not layers:  # the ANN variant: nothing spikes
            return torch.zeros(())
        return torch.stack([m.spikes for _, m in layers]).sum()  # type: ignore[misc]

    def record_activity(self, enabled: bool = True) -> None:
        """Turn per-neuron spike counting on/off (and clear what was counted)."""
        for m in self._spiking:
            m.record_activity = enabled
            m.reset_activity()

    def activity(self) -> dict[str, Tensor]:
        """Per-neuron spike counts per sample (summed over T, averaged over samples)."""
        out = {}
        for name, m in self.active_spiking_layers():
            if m.activity is not None and m.activity_samples:
                out[name] = m.activity / m.activity_samples
        return out
