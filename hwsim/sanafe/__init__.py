"""Cross-check hwsim against SANA-FE: run the same NIR network, mapped the same way, on both.

SANA-FE (SLAM-Lab, UT Austin / Sandia; `pip install sanafe`) is an event-driven simulator of
neuromorphic chips that a neuromorphic engineer would otherwise use. hwsim's analytic model stays
the engine the search calls; this package is the cross-check::

    cmp = compare_loihi(graph, inputs)   # stock `loihi` vs SANA-FE's own Loihi file
    cmp.ratios()                         # hwsim / SANA-FE: dynamic energy, time per timestep

Modules, one concern each: `extra` (the optional import), `arch` (a profile translated into a
SANA-FE architecture, or SANA-FE's own Loihi file), `params` (NIR neurons, synapses and input
spikes in SANA-FE's terms), `netlist` (the SANA-FE network on hwsim's placement), `run` (one
SANA-FE simulation), `compare` (both engines on the same spikes).

SANA-FE is GPL-3.0. It is an optional extra (`pip install 'autosnn[sanafe]'`) imported only in
this package, lazily inside functions, so the rest of hwsim (and autosnn) neither needs nor
links it; importing this package does not import SANA-FE.
"""

from hwsim.sanafe.arch import (
    ArchBinding,
    core_position,
    has_loihi_geometry,
    resolve_arch,
    sanafe_arch,
    sanafe_loihi_arch,
    sanafe_loihi_path,
    system_mesh,
)
from hwsim.sanafe.compare import Comparison, compare, compare_file, compare_loihi
from hwsim.sanafe.extra import INSTALL_HINT, SANAFE_LOIHI, SanafeMissingError, import_sanafe
from hwsim.sanafe.params import NeuronParams, input_raster, neuron_params, projection_synapses
from hwsim.sanafe.run import SanafeResult, run_sanafe

__all__ = [
    "INSTALL_HINT",
    "SANAFE_LOIHI",
    "ArchBinding",
    "Comparison",
    "NeuronParams",
    "SanafeMissingError",
    "SanafeResult",
    "compare",
    "compare_file",
    "compare_loihi",
    "core_position",
    "has_loihi_geometry",
    "import_sanafe",
    "input_raster",
    "neuron_params",
    "projection_synapses",
    "resolve_arch",
    "run_sanafe",
    "sanafe_arch",
    "sanafe_loihi_arch",
    "sanafe_loihi_path",
    "system_mesh",
]
