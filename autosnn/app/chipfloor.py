"""Why no sampled architecture is feasible on a chip: the commonest binding constraint, and
whether a budget lies below the floor of the whole space.

A budget that every evaluated architecture breaks, with many of them on the same lowest value,
is not bad luck: one term of the chip model sets a floor that no architecture or activity of the
space goes below. The message names that term (from the cost record's `time_terms_s`: the
busiest core's neuron sweep, its synaptic events, the network drain, the barrier, the tick) and
what would move it (placement ``spread``, another chip), with the numbers.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from autosnn.search.fitness import Evaluation

if TYPE_CHECKING:
    from autosnn.app.chipcost import ChipCost

# time term -> (what it is, the profile figure that scales it)
TERMS = {
    "synops_conv": ("synaptic events of convolutions on the busiest core",
                    "timing.latency_synop_s"),
    "synops_dense": ("synaptic events of dense layers on the busiest core",
                     "timing.latency_synop_s"),
    "neuron_sweep": ("the neuron sweep (every neuron of the busiest core updated each step, "
                     "spiking or not)", "timing.latency_neuron_update_s"),
    "state_updates": ("state updates on the busiest core", "timing.latency_neuron_update_s"),
    "spikes": ("spikes fired on the busiest core", "timing.latency_spike_s"),
    "messages_out": ("messages sent by the busiest core", "timing.latency_message_s"),
    "messages_in": ("messages received by the busiest core", "timing.latency_message_in_s"),
    "network": ("the network drain (the busiest link's messages)", "the link bandwidth"),
    "barrier": ("the barrier that ends every timestep", "timing.latency_barrier_s"),
    "tick": ("the chip's fixed tick", "timing.timestep_s"),
}
CORE_TERMS = frozenset(list(TERMS)[:7])
_ON_FLOOR = 1e-3  # within 0.1 % of the floor an architecture sits on it


def infeasible_message(model: ChipCost, evaluations: list[Evaluation]) -> str:
    """One line: the commonest binding constraint among ``evaluations`` (none feasible), and,
    for a latency or energy budget that all of them break, that it is the floor of the space,
    the term that sets it and what would lower it."""
    breaches = [(e, model.breach(e)) for e in evaluations]
    kinds = Counter(b[0].kind for _, b in breaches if b)
    if not kinds:
        return "no evaluation"
    kind = kinds.most_common(1)[0][0]
    lines = Counter(model.budgets.explain(b) for _, b in breaches if b and b[0].kind == kind)
    line = f"{kinds[kind]} of {len(evaluations)}: {lines.most_common(1)[0][0]}"
    if kind == "max_latency":
        return line + "; " + latency_floor(model, evaluations)
    if kind == "max_energy":
        return line + "; " + energy_floor(model, evaluations)
    return line


def _floor(model: ChipCost, evaluations: list[Evaluation], figure: str
           ) -> tuple[float, int, Evaluation] | None:
    """The lowest value of ``figure`` over the chip-feasible records, how many sit on it, and
    one architecture on it (None when no record has the figure)."""
    values = []
    for e in evaluations:
        v = getattr(model.record(e), figure)
        if v is not None:
            values.append((float(v), e))
    if not values:
        return None
    low, at = min(values, key=lambda x: x[0])
    on = sum(1 for v, _ in values if v <= low * (1 + _ON_FLOOR))
    return low, on, at


def _on(n: int) -> str:
    return f"{n} within 0.1 % of it"


def latency_floor(model: ChipCost, evaluations: list[Evaluation]) -> str:
    """Whether --max-latency is below the lowest time per timestep of the space, the term that
    sets that floor (the largest in the floor record's `time_terms_s`) and what would move it."""
    limit = model.budgets.max_latency_s
    found = _floor(model, evaluations, "time_per_timestep_s")
    if limit is None or found is None or found[0] <= limit:
        return "the budget is not below the lowest latency evaluated"
    low, on, at = found
    rec = model.record(at)
    terms = rec.time_terms_s
    term = max(terms, key=lambda k: terms[k]) if terms else "barrier"
    what, figure = TERMS[term]
    where = f" (layer {rec.critical_layer})" if term in CORE_TERMS and rec.critical_layer else ""
    head = (
        f"{model.budgets.describe('max_latency_s')} is below the floor of the space: the lowest "
        f"latency per timestep of the {len(evaluations)} evaluated is {low * 1e3:.4g} ms "
        f"({_on(on)}), {terms.get(term, 0.0) * 1e3:.4g} ms of it {what}{where}, which "
        f"{figure} of {model.profile.name} scales"
    )
    return head + "; " + _latency_remedy(model, at, term, low)


def _latency_remedy(model: ChipCost, at: Evaluation, term: str, low: float) -> str:
    """What would lower a latency floor set by ``term``, with the spread figure where it helps."""
    if term in ("barrier", "tick"):
        return "only another chip (or a profile with a shorter one) lowers it"
    if model.target.placement == "spread":
        return "placement spread is in use already: another chip is what would lower it"
    spread = model.record(at, placement="spread").time_per_timestep_s
    if spread is not None and spread < low * (1 - 1e-3):
        return (f"placement spread (hwsim estimate --placement spread) splits the busiest cores "
                f"over more cores: {spread * 1e3:.4g} ms for that architecture; or another chip")
    shown = "n/a" if spread is None else f"{spread * 1e3:.4g} ms"
    return f"placement spread does not lower it ({shown}): another chip would"


def energy_floor(model: ChipCost, evaluations: list[Evaluation]) -> str:
    """Whether --max-energy is below the lowest energy per inference of the space, and whether
    static (idle power x latency) or dynamic energy makes most of it."""
    limit = model.budgets.max_energy_j
    found = _floor(model, evaluations, "energy_total_j")
    if limit is None or found is None or found[0] <= limit:
        return "the budget is not below the lowest energy evaluated"
    low, on, at = found
    rec = model.record(at)
    static = rec.energy_static_j or 0.0
    if static >= low / 2:
        part = (f"{static * 1e6:.4g} uJ of it static power x latency: a faster mapping "
                "(placement spread) or another chip would lower it")
    else:
        part = (f"{(low - static) * 1e6:.4g} uJ of it dynamic (spikes, synaptic events, "
                "messages): fewer spikes (a more negative lambda) or another chip would lower it")
    return (f"{model.budgets.describe('max_energy_j')} is below the floor of the space: the "
            f"lowest energy per inference of the {len(evaluations)} evaluated is "
            f"{low * 1e6:.4g} uJ ({_on(on)}), {part}")

