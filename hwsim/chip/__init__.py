"""Chip profiles: YAML validated into an immutable `ChipSpec`.

The package: `spec` (the `ChipSpec` dataclass, whose fields carry each figure's section, kind,
unit and range), `schema` (the YAML tables generated from those fields and the checks of one
figure), `profile` (the strict YAML reader, the built-in profiles in the top-level `chips`
package, `parse_chip` and `load_chip`).

Every figure in a profile is a small mapping so that its provenance travels with it::

    neurons_per_core: {value: 1024, source: "Davies et al. 2018, IEEE Micro, Sec. 3"}
    link_bandwidth_spikes_per_s: {value: null, assumed: 3.44e9, assumption: "not published; ..."}

`value` is the published figure (then `source` is required); `value: null` means nothing is
published and `assumed` + `assumption` give the number used instead and why. The loader rejects
unknown keys, missing fields, negative or non-numeric values and sizes beyond what hwsim can
hold (e.g. `neurons_per_core` over 2^24, `cores_per_router` over `cores_total`) with one
`HwsimInputError` naming the file and the dotted field, so a profile typo never turns into a
silent default or a memory blow-up.

Figures added after the first profiles (per-message energy, activity-dependent neuron costs,
separate dense / conv synaptic figures, the timestep model) are OPTIONAL: a profile without them
keeps its old meaning, and the default used is recorded in `provenance` as `DEFAULT: ...`.

A profile may describe a board (system) of several chips with a `board:` section, and may inherit
every chip figure from a built-in profile with `base: <name>`, overriding only what it lists::

    base: loihi2
    board:
      chip_rows: {value: 2, source: ...}
      chip_cols: {value: 4, source: ...}
      link_bandwidth_spikes_per_s: {value: null, assumed: 1.0e+8, assumption: ...}
      latency_link_s: {...}
      energy_hop_j: {...}

The chips' meshes are tiled into one system mesh (chip-to-chip links join the edge routers of
neighbouring chips, as Loihi's and TrueNorth's meshes tile); the links that cross a chip boundary
take the board's bandwidth, latency and energy.

A profile may also carry an optional `search:` section: the budgets a deployment on this chip
must meet, which a search tool uses as its defaults (its own options override them)::

    search:
      max_cores: 64                                  # cores
      max_latency_s: 5.0e-4                          # seconds per timestep
      max_energy_j: {value: 2.0e-5, why: "battery: 10 k inferences per 0.2 J"}  # J per inference
      max_link_util: 0.5                             # busiest link's utilisation, (0, 1]

Budgets are a user's choice, not a published figure, so they carry no `source:`; each is a plain
number (reads best for a quick limit) or `{value: x, why: "..."}` when the reason should travel
with it (recorded in `provenance` as `BUDGET: <why>`). Every key is optional; an unknown key, a
wrong type, NaN or infinity, a value <= 0, a fractional core count or a link utilisation > 1 is
one `HwsimInputError` naming the file and `search.<key>`. A `base:` profile inherits the base's
`search:` keys and overrides those it lists. hwsim only parses and validates the section (it is
exposed as `ChipSpec.search_budgets`, empty when absent); it never applies it itself.
"""

from hwsim.chip.profile import (
    board_profiles,
    builtin_chip_dir,
    chip_path,
    list_chips,
    load_chip,
    parse_chip,
)
from hwsim.chip.schema import (
    BOARD,
    BUDGET_NO_WHY,
    FIGURES,
    OPTIONAL,
    SCHEMA,
    SEARCH,
    STEP_MODELS,
    Figure,
)
from hwsim.chip.spec import MAX_CORES_TOTAL, ChipSpec, figure

__all__ = [
    "BOARD",
    "BUDGET_NO_WHY",
    "FIGURES",
    "MAX_CORES_TOTAL",
    "OPTIONAL",
    "SCHEMA",
    "SEARCH",
    "STEP_MODELS",
    "ChipSpec",
    "Figure",
    "board_profiles",
    "builtin_chip_dir",
    "chip_path",
    "figure",
    "list_chips",
    "load_chip",
    "parse_chip",
]
