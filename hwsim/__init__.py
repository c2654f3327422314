"""hwsim: map a NIR spiking network onto a neuromorphic chip and estimate its cost.

Public API::

    net = hwsim.read_network("net.nir")            # or pass a nir.NIRGraph directly
    chip = hwsim.load_chip("loihi2")               # built-in name or YAML path
    act = hwsim.load_activity("act.npz", net)      # or None: stated firing-rate assumption
    rec = hwsim.estimate(net, act, chip, placement="greedy")   # -> CostRecord
    rec = hwsim.estimate(net, act, "loihi2-kapoho-point", placement="spread")  # a board
    rows = hwsim.fit(net, chip)                     # widths / kernel sizes that would fit
    why = hwsim.fit_reasons(net, chip)              # (Reason(kind, layer, needed, limit, ...),)
    checks = hwsim.validate_drain(rec, chip)        # analytic vs cycle-level drain per step

It depends on nir and numpy (not on autosnn), so any NIR producer can use it.
"""

from hwsim.activity import Activity, load_activity, uniform_activity
from hwsim.chip import ChipSpec, list_chips, load_chip, parse_chip
from hwsim.errors import HwsimInputError
from hwsim.estimate import estimate
from hwsim.feasibility import fit_reasons
from hwsim.fit import FitRow, fit, scale_network
from hwsim.network import Network, network_from_nir, read_network
from hwsim.reasons import Reason, ReasonKind
from hwsim.record import CostRecord, LayerCost
from hwsim.synthetic import SyntheticResult, synthetic
from hwsim.validate import DrainCheck, validate_drain

__all__ = [
    "Activity",
    "ChipSpec",
    "CostRecord",
    "DrainCheck",
    "FitRow",
    "HwsimInputError",
    "LayerCost",
    "Network",
    "Reason",
    "ReasonKind",
    "SyntheticResult",
    "estimate",
    "fit",
    "fit_reasons",
    "list_chips",
    "load_activity",
    "load_chip",
    "network_from_nir",
    "parse_chip",
    "read_network",
    "scale_network",
    "synthetic",
    "uniform_activity",
    "validate_drain",
]
