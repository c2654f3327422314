"""SANA-FE beside hwsim: the same network, mapping and spike counts costed by both engines.

`compare` runs SANA-FE on hwsim's placement, then hwsim on the spikes SANA-FE produced, so any
difference is the engines' cost models and figures, never the activity. Which figures SANA-FE
uses decides what an agreement means: `arch=SANAFE_LOIHI` (and `compare_loihi`) is SANA-FE's own
shipped Loihi file, independent of the hwsim profile; the translated profile (`arch=None`) has the
profile's own figures, so its energy agreement is by construction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nir
import numpy as np

from hwsim.activity import Activity
from hwsim.chip import ChipSpec, load_chip
from hwsim.errors import HwsimInputError
from hwsim.estimate import CostRecord, estimate
from hwsim.network import Network, network_from_nir
from hwsim.sanafe.arch import ArchBinding, has_loihi_geometry
from hwsim.sanafe.extra import SANAFE_LOIHI, import_sanafe
from hwsim.sanafe.params import input_raster
from hwsim.sanafe.run import SanafeResult, run_sanafe


@dataclass(frozen=True, eq=False)
class Comparison:
    """SANA-FE and hwsim on the same network, mapping and spike counts (per timestep figures)."""

    sanafe: SanafeResult
    hwsim: CostRecord
    host_messages: float  # hwsim messages to the host's output, which SANA-FE does not send

    def hwsim_dynamic_j(self) -> float:
        """hwsim's energy less its static term (SANA-FE models no static power)."""
        rec = self.hwsim
        dynamic = getattr(rec, "energy_dynamic_j", None)
        if dynamic is not None:
            return float(dynamic)
        return float(rec.energy_synops_j + rec.energy_neurons_j + (rec.energy_routing_j or 0.0))

    def ratios(self) -> dict[str, float]:
        """hwsim / SANA-FE: total and dynamic energy, time per timestep, messages, synaptic ops."""
        s, h = self.sanafe, self.hwsim
        total = h.energy_total_j if h.energy_total_j is not None else math.nan
        step = h.time_per_timestep_s if h.time_per_timestep_s is not None else math.nan
        messages = (h.messages or 0.0) - self.host_messages
        return {
            "energy_total": _ratio(total, s.energy_total_j),
            "energy_dynamic": _ratio(self.hwsim_dynamic_j(), s.energy_total_j),
            "time_per_timestep": _ratio(step, s.time_per_timestep_s),
            "messages": _ratio(messages, s.packets),
            "synops": _ratio(h.synops, s.synaptic_events),
        }

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(quantity, hwsim, SANA-FE, hwsim / SANA-FE) per timestep, for a printed table."""
        s, h, r = self.sanafe, self.hwsim, self.ratios()
        T = h.timesteps
        static = (h.energy_static_j or 0.0) / T
        return [
            (
                "energy, dynamic (J/step)",
                f"{self.hwsim_dynamic_j() / T:.4g}",
                f"{s.energy_per_timestep_j:.4g}",
                f"{r['energy_dynamic']:.3f}",
            ),
            ("energy, static (J/step)", f"{static:.4g}", "0 (not modelled)", ""),
            (
                "energy, total (J/step)",
                f"{(h.energy_total_j or 0.0) / T:.4g}",
                f"{s.energy_per_timestep_j:.4g}",
                f"{r['energy_total']:.3f}",
            ),
            (
                "time per timestep (s)",
                f"{h.time_per_timestep_s or 0.0:.4g}",
                f"{s.time_per_timestep_s:.4g}",
                f"{r['time_per_timestep']:.3f}",
            ),
            (
                "messages (to cores)",
                f"{(h.messages or 0.0) - self.host_messages:.6g}",
                str(s.packets),
                f"{r['messages']:.3f}",
            ),
            ("synaptic ops", f"{h.synops:.6g}", str(s.synaptic_events), f"{r['synops']:.3f}"),
        ]

    def to_dict(self) -> dict[str, Any]:
        h = self.hwsim
        T = h.timesteps
        return {
            "sanafe": self.sanafe.to_dict(),
            "hwsim": {
                "chip": h.chip,
                "energy_total_per_timestep_j": (h.energy_total_j or 0.0) / T,
                "energy_dynamic_per_timestep_j": self.hwsim_dynamic_j() / T,
                "energy_static_per_timestep_j": (h.energy_static_j or 0.0) / T,
                "energy_synops_j": h.energy_synops_j,
                "energy_neurons_j": h.energy_neurons_j,
                "energy_routing_j": h.energy_routing_j,
                "time_per_timestep_s": h.time_per_timestep_s,
                "messages": h.messages,
                "host_messages": self.host_messages,
                "synops": h.synops,
            },
            "ratio_hwsim_over_sanafe": self.ratios(),
        }


def compare_file(
    path: str | Path,
    chip: ChipSpec,
    activity: Activity,
    *,
    placement: str = "greedy",
    arch: str | ArchBinding | None = "auto",
) -> Comparison:
    """`hwsim estimate --engine sanafe`: read the NIR file (weights are needed, not only the
    structure hwsim keeps) and compare; input spikes come from the activity's input counts.

    `arch="auto"`: a profile with Loihi's chips is run on SANA-FE's own Loihi file, so the check
    is on independent figures; any other profile on its own figures translated (counts and
    scheduling checked, energy equal by construction; the table's title says which)."""
    import_sanafe()  # the missing extra is the first thing to report
    try:
        graph = nir.read(str(path))
    except Exception as exc:  # h5py and nir raise many types; all mean "unreadable"
        reason = type(exc).__name__
        raise HwsimInputError(path, "file", f"a readable NIR (HDF5) graph ({reason})") from None
    return compare(graph, chip, activity, placement=placement, arch=arch)


def _ratio(a: float, b: float) -> float:
    """a / b, NaN where SANA-FE reports 0 (e.g. a profile whose latencies are all 0)."""
    return a / b if b else math.nan


def _host_messages(net: Network, counts: Mapping[str, np.ndarray]) -> float:
    """Spikes of layers that feed an Output node: hwsim sends each to the host once."""
    out = 0.0
    for src in {p.src for p in net.projections if net.layer(p.dst).kind == "output"}:
        if net.layer(src).kind == "neuron":
            out += float(np.asarray(counts[src]).sum())
    return out


def compare(
    graph: nir.NIRGraph,
    chip: ChipSpec | str,
    inputs: Mapping[str, np.ndarray] | Activity,
    *,
    arch: str | ArchBinding | None = None,
    placement: str = "greedy",
) -> Comparison:
    """Run SANA-FE, then hwsim on SANA-FE's spike counts, with hwsim's mapping in both.

    `inputs`: a (T, N) spike raster per input node, or an Activity whose input counts are spread
    into one (`input_raster`). `arch`: None translates `chip` into SANA-FE; 'sanafe-loihi' uses
    SANA-FE's own Loihi figures; 'auto' the latter where `chip` has Loihi's chips.
    """
    import_sanafe()
    if placement == "spread":
        raise ValueError(
            "placement 'spread' re-splits layers; the sanafe engine maps the plain partition"
        )
    spec = chip if isinstance(chip, ChipSpec) else load_chip(chip)
    net = network_from_nir(graph)
    if isinstance(inputs, Activity):
        inputs = input_raster(inputs, net)
    rasters = {k: np.asarray(v, dtype=bool) for k, v in inputs.items()}
    missing = [la.name for la in net.layers if la.kind == "input" and la.name not in rasters]
    if missing:
        raise ValueError(f"no input spikes given for {', '.join(missing)}")
    timesteps = next(iter(rasters.values())).shape[0]
    prior = Activity(
        {k: v.sum(axis=0).astype(np.float64) for k, v in rasters.items()},
        timesteps=timesteps,
        source="input raster; other layers at the default rate (first placement only)",
    )
    first = estimate(net, prior, spec, placement=placement)
    if not first.feasible:
        raise ValueError("does not fit: " + "; ".join(first.reasons))
    core_of = first.core_of_layer
    for _ in range(2):  # SANA-FE's spikes do not depend on placement: at most one rerun
        result = run_sanafe(graph, spec, rasters, core_of_layer=core_of, arch=arch)
        measured = Activity(
            {k: v.ravel() for k, v in result.steps.items()},  # per timestep, (T*N,)
            timesteps=timesteps,
            source="SANA-FE spike counts",
        )
        record = estimate(net, measured, spec, placement=placement)
        same = all(
            np.array_equal(record.core_of_layer[k], core_of[k]) for k in record.core_of_layer
        )
        if same:
            break
        core_of = record.core_of_layer
    return Comparison(result, record, _host_messages(net, result.counts))


def compare_loihi(
    graph: nir.NIRGraph,
    inputs: Mapping[str, np.ndarray] | Activity,
    *,
    chip: ChipSpec | str = "loihi",
    placement: str = "greedy",
) -> Comparison:
    """hwsim's Loihi profile (the stock `loihi` unless `chip` names another with Loihi's chips)
    against SANA-FE run on ITS OWN shipped Loihi file, not on the profile translated: the same
    network, mapping and spike counts, independent per-event figures. SANA-FE's file was
    calibrated by its authors against Loihi hardware, so this is the non-circular check."""
    spec = chip if isinstance(chip, ChipSpec) else load_chip(chip)
    if not has_loihi_geometry(spec):
        raise ValueError(
            f"{spec.name} does not have Loihi's chips (4x8 tiles of 4 cores, 1,024 neurons)"
        )
    return compare(graph, spec, inputs, arch=SANAFE_LOIHI, placement=placement)
