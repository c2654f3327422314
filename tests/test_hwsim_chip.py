"""Chip profile loader: built-ins load from anywhere; malformed profiles fail with file + field."""

from __future__ import annotations

import copy
import math
from dataclasses import fields
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwsim import HwsimInputError, list_chips, load_chip
from hwsim.chip import BOARD, FIGURES, OPTIONAL, SCHEMA, ChipSpec, builtin_chip_dir, parse_chip

EXPECTED_CHIPS = {"loihi", "loihi2", "truenorth", "spinnaker2", "speck", "generic-mesh"}
TEMPLATE = yaml.safe_load((builtin_chip_dir() / "generic-mesh.yaml").read_text())
FIELDS = [
    (section, name, kind) for section, fields in SCHEMA.items() for name, kind in fields.items()
]
NUMERIC = [(s, n) for s, n, k in FIELDS if k in ("count", "limit", "number")]


def test_all_required_profiles_are_built_in() -> None:
    assert EXPECTED_CHIPS <= set(list_chips())


@pytest.mark.parametrize("name", sorted(EXPECTED_CHIPS))
def test_builtin_profile_loads_from_another_directory(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    chip = load_chip(name)
    assert chip.name == name
    assert chip.n_cores >= 1
    # every figure has a source, or says it is assumed and why
    optional = sum(len(v) for v in OPTIONAL.values())
    board = len(BOARD) if chip.board_name else 0
    assert len(chip.provenance) == len(FIELDS) + optional + board
    assert all(text.strip() for text in chip.provenance.values())


def test_published_figures_match_the_reference_sheet() -> None:
    loihi = load_chip("loihi")
    assert (loihi.neurons_per_core, loihi.n_cores, loihi.cores_per_router) == (1024, 128, 4)
    assert loihi.energy_synop_j == pytest.approx(23.6e-12)
    assert loihi.fan_in_axons_per_core == 4096 and not loihi.multicast
    truenorth = load_chip("truenorth")
    assert (truenorth.rows, truenorth.cols, truenorth.neurons_per_core) == (64, 64, 256)
    assert truenorth.energy_hop_j == pytest.approx(2.3e-12) and truenorth.timestep_s == 1e-3
    speck = load_chip("speck")
    assert speck.layers_per_core == 1 and speck.max_destinations_per_layer == 2
    assert speck.kernel_memory_words == (16384,) * 3 + (32768,) * 2 + (65536,) * 2 + (16384,) * 2
    assert load_chip("spinnaker2").multicast
    # Loihi 2's published 8,192 is cited; the figure used is fitted to Lava's PilotNet allocation
    assert "8,192" in load_chip("loihi2").provenance["core.neurons_per_core"]


def test_a_fitted_figure_says_what_it_was_fitted_to() -> None:
    loihi2 = load_chip("loihi2")
    assert loihi2.provenance["energy.energy_synop_j"].startswith("FITTED: ")
    assert loihi2.energy_synop_j == pytest.approx(23.6e-12 * 0.696, rel=0.01)  # Loihi's x fit


def test_load_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(TEMPLATE))
    assert load_chip(path).name == "generic-mesh"
    assert load_chip(str(path)).rows == 4


def test_unknown_chip_name_lists_the_built_ins() -> None:
    with pytest.raises(HwsimInputError, match="loihi2"):
        load_chip("no-such-chip")


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_missing_field_names_file_and_field(tmp_path: Path) -> None:
    data = copy.deepcopy(TEMPLATE)
    del data["energy"]["energy_hop_j"]
    path = _write(tmp_path, data)
    with pytest.raises(HwsimInputError) as err:
        load_chip(path)
    assert str(err.value) == f"{path}: energy.energy_hop_j: missing"


def test_unknown_key_is_rejected(tmp_path: Path) -> None:
    data = copy.deepcopy(TEMPLATE)
    data["core"]["neurons_per_cor"] = {"value": 3, "source": "typo"}
    with pytest.raises(HwsimInputError, match=r"bad\.yaml: core\.neurons_per_cor: unknown key"):
        load_chip(_write(tmp_path, data))


def test_null_value_without_assumption_is_rejected(tmp_path: Path) -> None:
    data = copy.deepcopy(TEMPLATE)
    data["timing"]["latency_link_s"] = {"value": None, "source": "nothing"}
    with pytest.raises(HwsimInputError, match=r"timing\.latency_link_s\.assumed: missing"):
        load_chip(_write(tmp_path, data))


def test_published_value_needs_a_source(tmp_path: Path) -> None:
    data = copy.deepcopy(TEMPLATE)
    data["mesh"]["rows"] = {"value": 4}
    with pytest.raises(HwsimInputError, match=r"mesh\.rows\.source"):
        load_chip(_write(tmp_path, data))


def test_a_fitted_figure_keeps_its_measurement_and_range(tmp_path: Path) -> None:
    data = copy.deepcopy(TEMPLATE)
    data["timing"]["latency_link_s"] = {"value": None, "fitted": 2e-9,
                                        "measurement": "toy run", "range": [1e-9, 3e-9]}
    chip = load_chip(_write(tmp_path, data))
    assert chip.latency_link_s == 2e-9
    assert chip.provenance["timing.latency_link_s"] == "FITTED: toy run"
    assert chip.ranges["latency_link_s"] == (1e-9, 3e-9)


@pytest.mark.parametrize(("figure", "where"), [
    ({"value": None, "fitted": 2e-9}, r"latency_link_s\.measurement: missing"),
    ({"value": None, "fitted": 2e-9, "measurement": " "}, r"latency_link_s\.measurement"),
    ({"value": None, "assumed": 2e-9, "assumption": "x", "range": [3e-9, 4e-9]},
     r"latency_link_s\.range"),  # the value outside its own range
    ({"value": None, "assumed": 2e-9, "assumption": "x", "range": [1e-9]},
     r"latency_link_s\.range"),
    ({"value": None, "assumed": 2e-9, "assumption": "x", "range": [1e-9, float("inf")]},
     r"latency_link_s\.range"),
    ({"value": 2e-9, "source": "paper", "range": [1e-9, 3e-9]}, r"latency_link_s\.range"),
])
def test_a_bad_fitted_figure_or_range_names_the_field(tmp_path: Path, figure: dict,
                                                      where: str) -> None:
    data = copy.deepcopy(TEMPLATE)
    data["timing"]["latency_link_s"] = figure
    with pytest.raises(HwsimInputError, match=where):
        load_chip(_write(tmp_path, data))


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(HwsimInputError, match="broken.yaml"):
        load_chip(path)


def test_binary_profile_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00 not text")
    with pytest.raises(HwsimInputError, match="binary.yaml: file"):
        load_chip(path)


bad_numbers = st.one_of(
    st.floats(max_value=-1e-12, allow_nan=False, allow_infinity=False),
    st.integers(max_value=-1),
    st.text(min_size=1, max_size=8),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.just(float("nan")),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(NUMERIC), value=bad_numbers, as_assumed=st.booleans())
def test_bad_numeric_value_names_file_and_field(
    field: tuple[str, str], value: object, as_assumed: bool
) -> None:
    section, name = field
    data = copy.deepcopy(TEMPLATE)
    if as_assumed:
        data[section][name] = {"value": None, "assumed": value, "assumption": "x"}
        where = f"{section}.{name}.assumed"
    else:
        data[section][name] = {"value": value, "source": "x"}
        where = f"{section}.{name}.value"
    with pytest.raises(HwsimInputError) as err:
        parse_chip(data, "prop.yaml")
    assert err.value.file == "prop.yaml"
    assert err.value.field == where
    assert str(err.value).startswith(f"prop.yaml: {where}: ")


@settings(max_examples=40, deadline=None)
@given(field=st.sampled_from(FIELDS))
def test_any_missing_field_is_named(field: tuple[str, str, str]) -> None:
    section, name, _ = field
    data = copy.deepcopy(TEMPLATE)
    del data[section][name]
    with pytest.raises(HwsimInputError) as err:
        parse_chip(data, "prop.yaml")
    assert err.value.field == f"{section}.{name}"


@settings(max_examples=40, deadline=None)
@given(
    section=st.sampled_from([*SCHEMA, None]),
    key=st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12),
)
def test_any_unknown_key_is_named(section: str | None, key: str) -> None:
    data = copy.deepcopy(TEMPLATE)
    target = data if section is None else data[section]
    if key in target:
        return
    target[key] = {"value": 1, "source": "x"}
    with pytest.raises(HwsimInputError) as err:
        parse_chip(data, "prop.yaml")
    assert err.value.field == (key if section is None else f"{section}.{key}")
    assert "unknown key" in err.value.expected


MOST = {(f.section, f.key): f.most for f in FIGURES}


@settings(max_examples=30, deadline=None)
@given(
    field=st.sampled_from(NUMERIC), value=st.floats(min_value=1.0, max_value=1e6, allow_nan=False)
)
def test_valid_positive_values_are_accepted_and_kept(field: tuple[str, str], value: float) -> None:
    section, name = field
    kind = SCHEMA[section][name]
    data = copy.deepcopy(TEMPLATE)
    v = int(value) if kind == "count" else value
    if section == "mesh":  # the system is capped at MAX_CORES_TOTAL routers and cores
        v = min(v, 1000)
    if name == "cores_per_router":  # a router has at most as many core slots as the chip
        total = TEMPLATE["mesh"]["cores_total"]
        v = min(v, total["value"] if total["value"] is not None else total["assumed"])
    most = MOST[(section, name)]
    v = v if most is None else min(v, int(most))
    data[section][name] = {"value": v, "source": "x"}
    chip = parse_chip(data, "ok.yaml")
    assert math.isclose(getattr(chip, name), v)


def test_the_yaml_tables_are_generated_from_every_chipspec_figure() -> None:
    # one source: each ChipSpec field is either a figure (in exactly one table, at the YAML key
    # its metadata names) or one of the few fields the loader fills itself
    tabled = {(s, k) for s, t in SCHEMA.items() for k in t}
    tabled |= {(s, k) for s, t in OPTIONAL.items() for k in t} | {("board", k) for k in BOARD}
    assert tabled == {(f.section, f.key) for f in FIGURES}
    assert len(tabled) == len(FIGURES)
    rest = {f.name for f in fields(ChipSpec)} - {f.name for f in FIGURES}
    assert rest == {"name", "description", "path", "board_name", "search_budgets", "provenance",
                    "ranges", "capabilities"}
    board = {f.key: f.name for f in FIGURES if f.section == "board"}
    assert board["chip_rows"] == "board_rows"  # the YAML key differs from the field's name
    assert all(f.unit for f in FIGURES if f.kind in ("limit", "number"))  # every figure has a unit


@pytest.mark.parametrize(
    ("section", "name", "value", "fragment"),
    [
        ("core", "neurons_per_core", 10**30, "at most 16777216"),
        ("mesh", "cores_per_router", 10**9, "at most 1024"),
        ("core", "synapse_weight_bits", 1e30, "at most 64"),
    ],
)
def test_absurd_sizes_are_refused_naming_the_figure_and_its_cap(
    section: str, name: str, value: float, fragment: str
) -> None:
    data = copy.deepcopy(TEMPLATE)
    data[section][name] = {"value": value, "source": "hostile"}
    with pytest.raises(HwsimInputError) as err:
        parse_chip(data, "big.yaml")
    assert err.value.field == f"{section}.{name}.value" and fragment in err.value.expected


def test_more_core_slots_per_router_than_cores_is_refused() -> None:
    data = copy.deepcopy(TEMPLATE)
    data["mesh"]["cores_per_router"] = {"value": 4, "source": "x"}
    data["mesh"]["cores_total"] = {"value": 1, "source": "x"}
    with pytest.raises(HwsimInputError) as err:
        parse_chip(data, "slots.yaml")
    assert err.value.field == "mesh.cores_per_router" and "cores_total (1)" in err.value.expected
