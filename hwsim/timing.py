"""The timing and energy model: activity -> synaptic ops, messages, link loads, step time, energy.

Everything is computed per timestep t (from per-timestep activity, or sums spread evenly), per
inference = one sample over T steps:
  synops[t]     = events arriving at on-chip neurons (exact geometry), conv and dense apart
  messages[t]   = unicast: one per (spike, destination core); multicast: one per spike (a tree)
  load_c[t]     = messages crossing channel c (each directed link, and each router's injection
                  and ejection port) in step t
  core[t]       = synops_conv*t_conv + synops_dense*t_dense + neurons*t_access
                  + state_updates*t_update + spikes*t_spike + msgs_out*t_msg + msgs_in*t_msg_in
                  (a core's pipeline is serial: SANA-FE's conv step is spikes x 35 ns)
  drain[t]      = max over channels (load_c[t] / bandwidth_c) + longest zero-load path
  t_step[t]     = barrier: max core[t] + drain[t] + t_barrier        (Loihi, Loihi 2)
                  tick:    max(tick, max core[t] + drain[t] + t_barrier)  (TrueNorth, SpiNNaker)
                  async:   max(max core[t], drain[t])   (pipelined event flow, no barrier: Speck)
  rho_c[t]      = load_c[t] / (bandwidth_c * t_step[t])
  E_dynamic     = synops_conv*E_conv + synops_dense*E_dense + neurons*T*E_access
                  + state_updates*E_update + spikes*E_spike + messages*E_msg
                  + deliveries*(E_router + E_msg_in) + hops_on_chip*E_hop + hops_chip*E_chip_hop
  E_static      = P_static * chips in use * sum_t t_step[t]   (P_static is what each profile's source measured:
                  a board's idle power for Loihi, chip leakage for TrueNorth; see docs/hwsim.md)
The report gives the mean and the peak timestep. A drain time is deterministic (the busiest
channel serialises its messages); `hwsim estimate --validate` checks it against the cycle-level
simulator on the mapped network's own traffic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwsim.chip import ChipSpec
from hwsim.connectivity import incoming_events
from hwsim.mapping import Partition
from hwsim.mesh import Mesh
from hwsim.network import Network
from hwsim.traffic import Routed, Trees


def piece_sum(part: Partition, layer: str, per_neuron: np.ndarray) -> np.ndarray:
    """(T, Q) sums of a (T, N) per-neuron array over the layer's pieces."""
    prefix = np.concatenate([np.zeros((per_neuron.shape[0], 1)), np.cumsum(per_neuron, 1)], 1)
    b = part.bounds(layer)
    return prefix[:, b[:, 1]] - prefix[:, b[:, 0]]


@dataclass(frozen=True)
class Work:
    """Per-timestep work of every on-chip neuron, by kind (each (T, N) per layer)."""

    syn_conv: dict[str, np.ndarray]
    syn_dense: dict[str, np.ndarray]
    updates: dict[str, np.ndarray]  # 1 where the neuron received input (its state changed)


def work_of(net: Network, steps: dict[str, np.ndarray], fused: dict[str, str]) -> Work:
    """Synaptic events (conv and dense apart) and state updates of every on-chip neuron."""
    conv: dict[str, np.ndarray] = {}
    dense: dict[str, np.ndarray] = {}
    for la in net.neuron_layers:
        T = steps[la.name].shape[0]
        conv[la.name] = np.zeros((T, la.size))
        dense[la.name] = np.zeros((T, la.size))
    for p in net.projections:
        if p.dst in conv and p.dst not in fused:
            target = conv if p.kind == "conv" else dense
            target[p.dst] += incoming_events(p, steps[p.src])
    updates = {k: ((conv[k] + dense[k]) > 0).astype(np.float64) for k in conv}
    return Work(conv, dense, updates)


def neuron_time(
    chip: ChipSpec, work: Work, steps: dict[str, np.ndarray], name: str, part: str = "all"
) -> np.ndarray:
    """(T, N) seconds of core time each neuron costs per step.

    `part="receive"`: synaptic events arriving; `"send"`: the neuron sweep, state updates and
    spikes fired; `"all"`: both (a serial core pipeline).
    """
    receive = (
        work.syn_conv[name] * chip.latency_synop_conv_s
        + work.syn_dense[name] * chip.latency_synop_dense_s
    )
    if part == "receive":
        return receive
    send = (
        chip.latency_neuron_update_s
        + work.updates[name] * chip.latency_neuron_state_update_s
        + steps[name] * chip.latency_spike_s
    )
    return send if part == "send" else receive + send


@dataclass(frozen=True, eq=False)
class Timing:
    """Per-timestep times of one mapping (T steps, P pieces, C channels = links then every
    router's injection and ejection port, L links)."""

    load: np.ndarray  # (T, C) messages crossing each channel
    bw_chan: np.ndarray  # (C,) spikes per second
    inter: np.ndarray  # (L,) whether a link joins two chips
    drain: np.ndarray  # (T,) network drain time
    core_time: np.ndarray  # (T, P) each piece's core time
    compute: np.ndarray  # (T,) busiest core
    barrier: float
    busy: np.ndarray  # (T,) work before the tick (or the step itself when no tick)
    step: np.ndarray  # (T,) the timestep

    @property
    def n_links(self) -> int:
        return int(self.inter.size)


def _channel_loads(
    trees: Trees, routed: Routed, core_of: np.ndarray, mesh: Mesh, chip: ChipSpec
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T, C) per-timestep channel loads: links, then each router's injection and ejection
    port; (C,) their bandwidths; (L,) which links cross chips."""
    assert trees.weight_steps is not None and routed.use_link is not None
    assert routed.use_tree is not None and trees.deliv_tree is not None
    assert trees.deliv_piece is not None
    la_, lb_ = mesh.link_ends()
    inter = chip.chip_of_router(la_) != chip.chip_of_router(lb_)
    bw = np.where(inter, chip.chip_link_bandwidth_spikes_per_s, chip.link_bandwidth_spikes_per_s)
    ws = trees.weight_steps  # (T, K)
    n_links, n_r = mesh.n_links, chip.n_routers
    d_router = np.append(chip.router_of_core(core_of), 0)[trees.deliv_piece]
    d_pairs = np.unique(trees.deliv_tree * n_r + d_router)  # (tree, router) ejections
    ej_tree, ej_router = np.divmod(d_pairs, n_r)
    chan = np.concatenate([routed.use_link, n_links + trees.src_router, n_links + n_r + ej_router])
    chan_tree = np.concatenate([routed.use_tree, np.arange(ws.shape[1]), ej_tree])
    n_chan = n_links + 2 * n_r
    load = np.stack([np.bincount(chan, weights=w[chan_tree], minlength=n_chan) for w in ws])
    bw_chan = np.concatenate([bw, np.full(2 * n_r, chip.link_bandwidth_spikes_per_s)])
    return load, bw_chan, inter


def _drain(
    load: np.ndarray, bw_chan: np.ndarray, inter: np.ndarray, trees: Trees, routed: Routed,
    chip: ChipSpec,
) -> np.ndarray:
    """(T,) drain time: the busiest channel serialises its messages, plus the longest live
    zero-load path."""
    assert trees.weight_steps is not None
    lat = np.where(inter, chip.chip_latency_link_s, chip.latency_link_s)
    drain_busy = (load / bw_chan).max(axis=1, initial=0.0)  # (T,)
    live = trees.weight[trees.edge_tree] > 0
    path_lat = np.bincount(routed.edge_k, weights=lat[routed.edge_link], minlength=live.size)
    path0 = chip.latency_router_s * (routed.edge_hops + 1) + path_lat
    live_steps = trees.weight_steps[:, trees.edge_tree] > 0  # (T, E)
    t_path = np.where(live_steps, path0[None, :], 0.0).max(axis=1, initial=0.0)
    return np.where(drain_busy > 0, drain_busy + t_path, 0.0)


def _core_time(
    net: Network, part: Partition, work: Work, steps: dict[str, np.ndarray], trees: Trees,
    chip: ChipSpec,
) -> np.ndarray:
    """(T, P) core time per piece: receive side (messages in, synaptic events) and send side
    (neuron sweep, state updates, spikes, messages out); serial cores add them, overlapped ones
    (SANA-FE's Loihi: buffer at the soma) run them on two timelines and take the longer."""
    assert trees.weight_steps is not None and trees.src_piece is not None
    assert trees.deliv_tree is not None and trees.deliv_piece is not None
    T, n_pieces = next(iter(steps.values())).shape[0], len(part.pieces)
    ws = trees.weight_steps
    recv_time = np.zeros((T, n_pieces))
    send_time = np.zeros((T, n_pieces))
    for la in net.neuron_layers:
        if la.name in part.fused:
            continue
        idx = part.layer_pieces[la.name]
        recv_time[:, idx] += piece_sum(
            part, la.name, neuron_time(chip, work, steps, la.name, "receive")
        )
        send_time[:, idx] += piece_sum(
            part, la.name, neuron_time(chip, work, steps, la.name, "send")
        )
    if chip.latency_message_s > 0 or chip.latency_message_in_s > 0:
        src_ok = trees.src_piece < n_pieces
        d_ok = trees.deliv_piece < n_pieces
        for t in range(T):
            send_time[t] += chip.latency_message_s * np.bincount(
                trees.src_piece[src_ok], weights=ws[t, src_ok], minlength=n_pieces
            )
            recv_time[t] += chip.latency_message_in_s * np.bincount(
                trees.deliv_piece[d_ok], weights=ws[t, trees.deliv_tree[d_ok]], minlength=n_pieces
            )
    if chip.core_overlap:
        return np.maximum(recv_time, send_time)
    return recv_time + send_time


def timing(
    net: Network, part: Partition, work: Work, steps: dict[str, np.ndarray], trees: Trees,
    routed: Routed, core_of: np.ndarray, chip: ChipSpec,
) -> Timing:
    """Every timestep's time under the chip's step model (barrier, tick or async)."""
    mesh = Mesh(chip.mesh_rows, chip.mesh_cols)
    load, bw_chan, inter = _channel_loads(trees, routed, core_of, mesh, chip)
    drain = _drain(load, bw_chan, inter, trees, routed, chip)
    core_time = _core_time(net, part, work, steps, trees, chip)
    compute = core_time.max(axis=1, initial=0.0)  # (T,)
    barrier = chip.barrier_s(int(np.unique(chip.router_of_core(core_of)).size))
    if chip.step_model == "async":
        busy = np.maximum(compute, drain)
    else:
        busy = compute + drain + barrier
    step = np.maximum(chip.timestep_s, busy) if chip.step_model == "tick" else busy
    return Timing(load, bw_chan, inter, drain, core_time, compute, barrier, busy, step)


def bound_of(tm: Timing, chip: ChipSpec) -> str:
    """What sets the mean timestep: compute, network, barrier or tick."""
    parts = {
        "compute": float(tm.compute.mean()),
        "network": float(tm.drain.mean()),
        "barrier": tm.barrier if chip.step_model != "async" else 0.0,
    }
    bound = max(parts, key=lambda k: parts[k])
    if chip.step_model == "tick" and chip.timestep_s >= float(tm.busy.mean()):
        bound = "tick"
    return bound


def critical_terms(
    tm: Timing, part: Partition, work: Work, steps: dict[str, np.ndarray], trees: Trees,
    chip: ChipSpec,
) -> tuple[dict[str, float], str | None]:
    """The terms of the mean timestep, seconds: the busiest core's in every step (synaptic
    events, neuron sweep, state updates, spikes, messages), the network drain, the barrier and
    the tick; and the layer whose core is the busiest in most steps. A budget below what one
    term alone costs cannot be met by any activity: this is what names a latency floor."""
    assert trees.weight_steps is not None and trees.src_piece is not None
    assert trees.deliv_tree is not None and trees.deliv_piece is not None
    names = ("synops_conv", "synops_dense", "neuron_sweep", "state_updates", "spikes",
             "messages_out", "messages_in")
    total = dict.fromkeys(names, 0.0)
    T = tm.step.size
    layers: list[str] = []
    for t in range(T):
        if tm.core_time.shape[1] == 0:
            break
        p = int(np.argmax(tm.core_time[t]))
        pc = part.pieces[p]
        layers.append(pc.layer)
        sl = slice(pc.start, pc.stop)
        ws_t = trees.weight_steps[t]
        terms = (
            work.syn_conv[pc.layer][t, sl].sum() * chip.latency_synop_conv_s,
            work.syn_dense[pc.layer][t, sl].sum() * chip.latency_synop_dense_s,
            pc.size * chip.latency_neuron_update_s,
            work.updates[pc.layer][t, sl].sum() * chip.latency_neuron_state_update_s,
            steps[pc.layer][t, sl].sum() * chip.latency_spike_s,
            ws_t[trees.src_piece == p].sum() * chip.latency_message_s,
            ws_t[trees.deliv_tree[trees.deliv_piece == p]].sum() * chip.latency_message_in_s,
        )
        for name, value in zip(names, terms, strict=True):
            total[name] += float(value) / T
    total["network"] = float(tm.drain.mean())
    total["barrier"] = tm.barrier if chip.step_model != "async" else 0.0
    total["tick"] = chip.timestep_s if chip.step_model == "tick" else 0.0
    layer = max(set(layers), key=layers.count) if layers else None
    return total, layer


@dataclass(frozen=True)
class Energy:
    """Dynamic energy per inference by kind (joules); static is added by the caller."""

    routing: float  # hops (on-chip and chip-to-chip) and router deliveries
    messages: float  # sending and receiving messages
    interchip: float  # chip-to-chip hops (part of routing)
    relays: float  # splitter neurons
    dynamic: float  # everything: local (synops, neurons, spikes) + the above


def network_energy(
    chip: ChipSpec, local_j: float, messages: float, deliveries: float, hops: float,
    inter_hops: float, relays_j: float,
) -> Energy:
    """Energy of the traffic (per inference) on top of `local_j`, the cores' own energy."""
    e_hop = (hops - inter_hops) * chip.energy_hop_j + inter_hops * chip.chip_energy_hop_j
    e_route = e_hop + deliveries * chip.energy_router_j
    e_msg = messages * chip.energy_message_j + deliveries * chip.energy_message_in_j
    return Energy(
        e_route, e_msg, inter_hops * chip.chip_energy_hop_j, relays_j,
        local_j + e_msg + e_route + relays_j,
    )
