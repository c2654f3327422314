"""Orchestration: map a network on a chip, route its spikes, cost it (`estimate`), or only ask
whether it can map at all (`fit_reasons`).

The parts live by concern: the record (hwsim.record), the partition and placement
(hwsim.mapping), the traffic trees and their routes (hwsim.traffic), and the timing and energy
formulas (hwsim.timing, whose docstring states the model). A network that cannot run carries
its refusals as data (hwsim.reasons.Reason), so callers never read the sentences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import nir
import numpy as np

from hwsim import splitters
from hwsim.activity import DEFAULT_TIMESTEPS, Activity, uniform_activity
from hwsim.capabilities import capability_reasons
from hwsim.chip import ChipSpec, load_chip
from hwsim.errors import HwsimInputError
from hwsim.feasibility import as_network, fan_out, fit_reasons, over_max_cores
from hwsim.mapping import Partition, partition, split_heavy
from hwsim.mesh import Mesh
from hwsim.network import Network
from hwsim.placement import place
from hwsim.reasons import Reason
from hwsim.record import RECORD_KEYS, CostRecord, LayerCost
from hwsim.timing import (
    Timing,
    Work,
    bound_of,
    critical_terms,
    network_energy,
    neuron_time,
    timing,
    work_of,
)
from hwsim.traffic import (
    Routed,
    Sender,
    Trees,
    _piece_traffic,
    build_trees,
    route_trees,
    spike_senders,
)

# names other code imported from here before the split (bench/hwsim.py, hwsim.cli, ...)
__all__ = ["RECORD_KEYS", "CostRecord", "LayerCost", "Sender", "Trees", "_piece_traffic",
           "build_trees", "estimate", "fit_reasons", "route_trees", "spike_senders"]


@dataclass(frozen=True, eq=False)
class _Inputs:
    """What every mapping of one network shares: its activity, work and stated assumptions."""

    net: Network
    steps: dict[str, np.ndarray]  # (T, N) spikes per timestep of every non-output layer
    work: Work
    chip: ChipSpec
    assumptions: tuple[str, ...]


def _base(inp: _Inputs, part: Partition, placement: str) -> dict[str, Any]:
    """The fields of a record that routing does not change (the cores' own work and energy)."""
    chip, net, work = inp.chip, inp.net, inp.work
    T = next(iter(inp.steps.values())).shape[0]
    on_chip = [la for la in net.neuron_layers if la.name not in part.fused]
    syn_conv = float(sum(work.syn_conv[la.name].sum() for la in on_chip))
    syn_dense = float(sum(work.syn_dense[la.name].sum() for la in on_chip))
    updates = float(sum(work.updates[la.name].sum() for la in on_chip))
    spikes = float(sum(inp.steps[la.name].sum(axis=0).sum() for la in net.neuron_layers))
    neurons = sum(la.size for la in on_chip)
    return dict(
        chip=chip.name,
        board=chip.board_name,
        step_model=chip.step_model,
        placement=placement,
        timesteps=T,
        cores_available=chip.n_cores,
        neurons=neurons,
        spikes=spikes,
        synops=syn_conv + syn_dense,
        energy_synops_j=syn_conv * chip.energy_synop_conv_j
        + syn_dense * chip.energy_synop_dense_j,
        energy_neurons_j=neurons * T * chip.energy_neuron_update_j
        + updates * chip.energy_neuron_state_update_j,
        energy_spikes_j=spikes * chip.energy_spike_j,
        mesh=(chip.mesh_rows, chip.mesh_cols),
        chip_mesh=(chip.rows, chip.cols),
        cores_per_router=chip.cores_per_router,
        cores_per_chip=chip.cores_per_chip,
    )


def _layer_costs(
    inp: _Inputs, part: Partition, sent: dict[str, tuple[float, float]]
) -> tuple[LayerCost, ...]:
    """Per-layer figures; `sent[layer]` = (messages, hops) it sends (absent: none routed)."""
    out = []
    for la in inp.net.layers:
        if la.kind == "output":
            continue
        on_chip = la.kind != "input" and la.name not in part.fused
        synops_in = 0.0
        if la.name in inp.work.syn_conv:
            synops_in = float(
                (inp.work.syn_conv[la.name] + inp.work.syn_dense[la.name]).sum(axis=0).sum()
            )
        msgs, hops = sent.get(la.name, (0.0, 0.0))
        out.append(LayerCost(
            la.name, la.size, int(part.layer_pieces[la.name].size) if on_chip else 0,
            float(inp.steps[la.name].sum(axis=0).sum()), synops_in, msgs, hops,
        ))
    return tuple(out)


def _refused(inp: _Inputs, part: Partition, base: dict[str, Any], why: list[Reason]) -> CostRecord:
    """The record of a network that does not fit: its local figures and why."""
    chip = inp.chip
    n_chips = min(chip.n_chips, -(-len(part.pieces) // chip.cores_per_chip))
    return CostRecord(
        feasible=False, refusals=tuple(why), assumptions=inp.assumptions,
        cores_used=len(part.pieces), chips_used=n_chips, messages=None, deliveries=None,
        hops=None, layers=_layer_costs(inp, part, {}), max_link_load_per_step=None,
        max_link_utilisation=None, saturated=None, time_compute_s=None, time_network_s=None,
        time_per_timestep_s=None, latency_per_inference_s=None, energy_routing_j=None,
        energy_static_j=None, energy_total_j=None, **base,
    )


def _traffic_fields(
    inp: _Inputs, part: Partition, senders: list[Sender], trees: Trees, routed: Routed,
    tm: Timing,
) -> dict[str, Any]:
    """Messages, deliveries and hops (all and chip-to-chip), per layer and in total."""
    assert routed.use_tree is not None and routed.use_link is not None
    n = len(senders)
    msgs_layer = np.bincount(trees.layer, weights=trees.weight, minlength=n)
    hops_layer = np.bincount(trees.layer, weights=trees.weight * routed.tree_links, minlength=n)
    inter_use = tm.inter[routed.use_link]
    sent = {s.layer: (float(msgs_layer[i]), float(hops_layer[i])) for i, s in enumerate(senders)}
    return dict(
        messages=float(trees.weight.sum()),
        deliveries=float((trees.weight * trees.deliveries).sum()),
        hops=float((trees.weight * routed.tree_links).sum()),
        interchip_hops=float((trees.weight[routed.use_tree] * inter_use).sum()),
        interchip_messages=float(trees.weight[np.unique(routed.use_tree[inter_use])].sum()),
        layers=_layer_costs(inp, part, sent),
    )


def _time_fields(tm: Timing, chip: ChipSpec, assumptions: list[str]) -> dict[str, Any]:
    """Mean and peak timestep, link loads and utilisations (a tick overrun is stated)."""
    T, n_links = tm.step.size, tm.n_links
    with np.errstate(divide="ignore", invalid="ignore"):
        rho_steps = np.where(tm.load > 0, tm.load / (tm.bw_chan * tm.step[:, None]), 0.0)
    rho_link = rho_steps[:, :n_links].max(axis=0, initial=0.0)
    peak = int(np.argmax(tm.step))
    saturated = bool(chip.step_model == "tick" and (tm.busy > chip.timestep_s).any())
    if saturated:
        over = int((tm.busy > chip.timestep_s).sum())
        assumptions.append(
            f"timestep overrun in {over}/{T} steps: up to {tm.busy.max():.3g} s of work in a "
            f"{chip.timestep_s:g} s tick"
        )
    load_links = tm.load[:, :n_links]
    return dict(
        max_link_load_per_step=float(load_links.max(initial=0.0)),
        max_link_utilisation=float(rho_link.max(initial=0.0)),
        max_interchip_utilisation=float(rho_link[tm.inter].max(initial=0.0)),
        saturated=saturated, bound=bound_of(tm, chip), peak_timestep=peak,
        time_compute_s=float(tm.compute.mean()), time_network_s=float(tm.drain.mean()),
        time_per_timestep_s=float(tm.step.mean()),
        time_per_timestep_peak_s=float(tm.step[peak]), step_times_s=tm.step,
        step_compute_s=tm.compute, step_drain_s=tm.drain,
        link_load_per_step=load_links.mean(axis=0), link_load_peak=load_links[peak],
        link_utilisation=rho_link, link_interchip=tm.inter,
    )


def _routed(
    inp: _Inputs, part: Partition, placement: str, senders: list[Sender],
    relays: splitters.Relays, base: dict[str, Any],
) -> CostRecord:
    """Place, route and time a partition that fits; the record with every figure."""
    chip, net = inp.chip, inp.net
    assumptions = list(inp.assumptions)
    core_of = place(part, _piece_traffic(senders, len(part.pieces)), chip, placement)
    trees = build_trees(senders, core_of, chip)
    routed = route_trees(trees, Mesh(chip.mesh_rows, chip.mesh_cols))
    tm = timing(net, part, inp.work, inp.steps, trees, routed, core_of, chip)
    traffic = _traffic_fields(inp, part, senders, trees, routed, tm)
    times = _time_fields(tm, chip, assumptions)
    local = base["energy_synops_j"] + base["energy_neurons_j"] + base["energy_spikes_j"]
    energy = network_energy(
        chip, local, traffic["messages"], traffic["deliveries"], traffic["hops"],
        traffic["interchip_hops"], relays.energy_j(chip, tm.step.size),
    )
    if relays.layers:
        assumptions.append(splitters.assumption(relays, chip))
    latency = float(tm.step.sum()) + relays.stages * times["time_per_timestep_s"]
    chips_used = int(np.unique(chip.chip_of_router(chip.router_of_core(core_of))).size)
    # the profile's static figure is one chip's (or one single-chip system's): a board pays it
    # for every chip in use (idle chips are assumed power-gated)
    e_static = chip.power_static_w * chips_used * latency
    if chip.n_chips > 1:
        assumptions.append(
            f"static power {chip.power_static_w:g} W per chip x {chips_used} chips in use"
        )
    terms, critical = critical_terms(tm, part, inp.work, inp.steps, trees, chip)
    on_chip = [la.name for la in net.neuron_layers if la.name not in part.fused]
    return CostRecord(
        feasible=True, refusals=(), assumptions=tuple(assumptions),
        cores_used=len(part.pieces) + relays.cores, splitter_cores=relays.cores,
        splitter_neurons=relays.neurons, energy_splitters_j=energy.relays,
        chips_used=chips_used, latency_per_inference_s=latency,
        energy_routing_j=energy.routing, energy_messages_j=energy.messages,
        energy_interchip_j=energy.interchip, energy_dynamic_j=energy.dynamic,
        energy_static_j=e_static, energy_total_j=energy.dynamic + e_static,
        energy_board_idle_j=chip.power_board_idle_w * chips_used * latency,
        core_of_layer={name: core_of[part.layer_pieces[name]] for name in on_chip},
        internals={"core_of": core_of, "trees": trees}, time_terms_s=terms,
        critical_layer=critical, **traffic, **times, **base,
    )


def _estimate_mapped(inp: _Inputs, part: Partition, placement: str) -> CostRecord:
    """Cost one partition on the chip (placing it with `placement`)."""
    base = _base(inp, part, placement)
    refusals = list(part.refusals)
    if refusals:
        return _refused(inp, part, base, refusals)
    senders = spike_senders(inp.net, part, inp.steps)
    relays = fan_out(inp.net, part, senders, inp.chip, refusals)
    if refusals:
        return _refused(inp, part, base, refusals)
    return _routed(inp, part, placement, senders, relays, base)


def _inputs(net: Network, act: Activity, chip: ChipSpec, fused: dict[str, str]) -> _Inputs:
    """Every layer's activity per timestep, its work, and what was assumed to get them."""
    assumptions = [f"activity: {act.source}"]
    steps: dict[str, np.ndarray] = {}
    for la in net.layers:
        if la.kind == "output":
            continue
        steps[la.name], measured = act.steps_for(la.name, la.size)
        if not measured and act.counts:
            assumptions.append(f"{la.name}: not measured, {act.rate:g} spikes/neuron/step assumed")
    defaults = [
        k for k, v in chip.provenance.items()
        if v.startswith("DEFAULT") and k.startswith(("energy.", "timing."))
    ]
    if defaults:
        assumptions.append("profile lacks " + ", ".join(defaults) + " (0 or the general figure)")
    return _Inputs(net, steps, work_of(net, steps, fused), chip, tuple(assumptions))


def _spread(inp: _Inputs, part: Partition, max_cores: int | None) -> CostRecord:
    """The heaviest pieces split over more cores at a few core budgets; the fastest kept, with
    one `tradeoff` row per budget."""
    chip = inp.chip
    per_neuron = {
        la.name: neuron_time(chip, inp.work, inp.steps, la.name).sum(axis=0)
        for la in inp.net.neuron_layers
        if la.name not in part.fused
    }
    budget = min(chip.n_cores, max_cores or chip.n_cores)
    n0 = len(part.pieces)
    budgets = sorted({n0, budget, *(b for b in (n0 * 2**k for k in range(1, 16)) if b < budget)})
    best: CostRecord | None = None
    best_t = math.inf  # best's time per timestep
    rows: list[dict[str, Any]] = []
    for b in budgets:
        if b < n0:
            continue
        rec = _estimate_mapped(inp, split_heavy(part, per_neuron, b), "spread")
        if not rec.feasible:
            return rec
        t = rec.time_per_timestep_s
        assert t is not None  # a feasible record has its times
        rows.append({
            "cores": rec.cores_used, "chips": rec.chips_used, "time_per_timestep_s": t,
            "time_compute_s": rec.time_compute_s, "time_network_s": rec.time_network_s,
            "energy_total_j": rec.energy_total_j,
            "max_link_utilisation": rec.max_link_utilisation, "bound": rec.bound,
        })
        if best is None or t < best_t * (1 - 1e-9):
            best, best_t = rec, t
    assert best is not None
    return replace(best, tradeoff=tuple(rows))


def estimate(
    graph: nir.NIRGraph | Network,
    activity: Activity | None,
    profile: ChipSpec | str,
    *,
    placement: str = "greedy",
    max_cores: int | None = None,
) -> CostRecord:
    """Map, route and cost one network on one chip. Fast enough to call per search candidate.

    `placement="spread"` splits the heaviest pieces over more cores (up to `max_cores`, or all
    the chip or board has) at a few budgets and keeps the fastest; the record's `tradeoff` lists
    every budget tried (cores, time per step, energy, peak link utilisation).
    """
    chip = profile if isinstance(profile, ChipSpec) else load_chip(profile)
    net = as_network(graph)
    if not net.neuron_layers:
        raise HwsimInputError("<graph>", "nodes", "at least one spiking node (LIF, IF, CubaLIF)")
    if activity is None:
        activity = uniform_activity(timesteps=net.timesteps or DEFAULT_TIMESTEPS)
    if net.timesteps is not None and activity.timesteps != net.timesteps:
        raise HwsimInputError(
            activity.source, "T",
            f"{net.timesteps}, the T in the graph's metadata (got {activity.timesteps})",
        )
    if max_cores is not None and max_cores < 1:
        raise ValueError(f"max_cores must be a positive integer, got {max_cores}")
    # what the chip cannot run at all is decided first, from the graph (or the network's
    # structure), and the record then carries no time or energy totals
    cannot = capability_reasons(graph, chip)
    part = partition(net, chip)
    if cannot:
        part = replace(part, refusals=(*cannot, *part.refusals))
    inp = _inputs(net, activity, chip, part.fused)
    if max_cores is not None and len(part.pieces) > max_cores:
        why = over_max_cores(len(part.pieces), max_cores)
        part = replace(part, refusals=(*part.refusals, why))
    if placement != "spread" or part.refusals:
        return _estimate_mapped(inp, part, placement)
    return _spread(inp, part, max_cores)
