"""Can a network map onto a chip at all? The refusals its structure alone decides.

The per-core limits, the number of cores (splitter cores included), the fan-out rule and a core
budget do not depend on the activity: `fit_reasons` answers them without routing anything, and
`estimate` uses the same checks, so both give the same refusals.
"""

from __future__ import annotations

import math

import nir
import numpy as np

from hwsim import splitters
from hwsim.capabilities import capability_reasons
from hwsim.chip import ChipSpec, load_chip
from hwsim.mapping import Partition, partition
from hwsim.network import Network, network_from_nir
from hwsim.reasons import Reason
from hwsim.traffic import Sender, spike_senders


def as_network(graph: nir.NIRGraph | Network) -> Network:
    """A NIR graph read into hwsim's network (a Network is returned as is)."""
    return graph if isinstance(graph, Network) else network_from_nir(graph)


def over_max_cores(cores: int, max_cores: int) -> Reason:
    """The reason a core budget (not the chip) breaks."""
    return Reason(
        "max_cores", None, cores, max_cores,
        f"needs {cores} cores > the --max-cores budget of {max_cores}",
    )


def fan_out(
    net: Network, part: Partition, senders: list[Sender], chip: ChipSpec, reasons: list[Reason]
) -> splitters.Relays:
    """Neurons reaching more cores than the chip allows: relayed by splitter neurons where the
    profile allows them (their cores count against the chip), else a reason in `reasons`."""
    if chip.splitter_neurons:
        relays = splitters.plan(net, senders, chip)
        reasons.extend(relays.refusals)
        total = len(part.pieces) + relays.cores
        if relays.cores and total > chip.n_cores:
            reasons.append(Reason(
                "chip_cores", None, total, chip.n_cores,
                f"needs {total} cores ({len(part.pieces)} + {relays.cores} splitter cores), "
                f"{chip.name} has {chip.n_cores}",
            ))
        return relays
    spiking = {la.name for la in net.neuron_layers}
    for s in senders:
        n_dest = np.bincount(s.neuron, minlength=s.counts.size)
        if s.layer in spiking and n_dest.max(initial=0) > chip.fan_out_cores_per_neuron:
            reasons.append(splitters.no_splitters_reason(s.layer, int(n_dest.max()), chip))
    return splitters.NO_RELAYS


def fit_reasons(
    graph: nir.NIRGraph | Network,
    profile: ChipSpec | str,
    *,
    max_cores: int | None = None,
    quick: bool = False,
) -> tuple[Reason, ...]:
    """Why a network cannot be mapped on the chip, from its structure alone; empty when it can.

    The per-core limits, the number of cores (splitter cores included) and the fan-out rule do
    not depend on the activity, so this answers what `estimate(...).refusals` would, without
    routing anything: a search uses it to reject a candidate before spending an evaluation.
    Capability rules (`hwsim.capabilities`: a neuron model, pooling kind, distinct weights, bias
    or conv geometry the chip cannot run) come first, named, before anything is partitioned.
    `quick=True` gives the same verdict faster when it does not fit: the capability refusals
    alone when there are any; else, if single neurons already break a per-core limit, those
    (one per layer, every layer checked, so a caller can count which rule refuses most
    networks) without cutting any layer.
    """
    chip = profile if isinstance(profile, ChipSpec) else load_chip(profile)
    net = as_network(graph)  # reads and checks the graph (one line on what hwsim cannot read)
    cannot = capability_reasons(graph, chip)
    if cannot and quick:  # the chip cannot run it at all: no need to cut a layer
        return cannot
    part = partition(net, chip, quick=quick)
    reasons = [*cannot, *part.refusals]
    relays = splitters.NO_RELAYS
    if not part.refusals and math.isfinite(chip.fan_out_cores_per_neuron):
        ones = {la.name: np.ones(la.size) for la in net.layers if la.kind != "output"}
        relays = fan_out(net, part, spike_senders(net, part, ones), chip, reasons)
    cores = len(part.pieces) + relays.cores
    if max_cores is not None and cores > max_cores and not (quick and part.refusals):
        reasons.append(over_max_cores(cores, max_cores))
    return tuple(reasons)
