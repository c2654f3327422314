"""Search budgets in a chip profile's `search:` section: defaults that CLI options override, one
at a time, with every budget's origin recorded and a profile limit nothing meets named as such."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import hwsim.chip
from autosnn.app.chipcost import Budgets, ChipCost, ChipTarget
from autosnn.app.cli import app
from autosnn.core.errors import AutosnnError
from autosnn.core.spaces import get_space
from hwsim import HwsimInputError, load_chip
from hwsim.chip import builtin_chip_dir, parse_chip
from tests.test_chipcost import ARCH, G, measured

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "loihi2-budgeted.yaml"


def profile(tmp_path: Path, search: Any, name: str = "budgeted.yaml") -> Path:
    """A Loihi 2 profile (``base: loihi2``, outside chips/) with the given ``search:`` section."""
    path = tmp_path / name
    doc = {"base": "loihi2", "name": "loihi2-test", "description": "budget test"}
    path.write_text(yaml.safe_dump({**doc, "search": search}))
    return path


def cost(path: Path | str, budgets: Budgets = Budgets()) -> ChipCost:
    return ChipCost(ChipTarget(str(path), budgets=budgets), space=get_space("snn1"),
                    **ARCH)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def rec() -> Any:
    """hwsim's record of the toy candidate on Loihi 2 without budgets (the limits below are set
    around its measured figures, so each test knows which side of a limit it is on)."""
    return cost("loihi2").record(measured(G, 100.0))


# -- the profile section ----------------------------------------------------------------------
def test_example_profile_loads_outside_chips_and_builtins_have_no_budgets() -> None:
    spec = load_chip(EXAMPLE)
    assert dict(spec.search_budgets) == {"max_cores": 64, "max_latency_s": 5e-4}
    assert isinstance(spec.search_budgets["max_cores"], int)
    assert spec.n_cores == load_chip("loihi2").n_cores  # every figure inherited from the base
    assert spec.provenance["search.max_cores"].startswith("BUDGET: example")
    assert dict(load_chip("loihi2").search_budgets) == {}


def test_plain_numbers_and_value_why_mappings_both_parse(tmp_path: Path) -> None:
    spec = load_chip(profile(tmp_path, {"max_energy_j": 2e-5,
                                        "max_link_util": {"value": 1, "why": "all of it"}}))
    assert dict(spec.search_budgets) == {"max_energy_j": 2e-5, "max_link_util": 1.0}
    assert spec.provenance["search.max_link_util"] == "BUDGET: all of it"


BAD = [  # search section, dotted field named, words of what was expected
    ({"max_watts": 1.0}, "search.max_watts", "unknown key"),
    ([1, 2], "search", "mapping of budgets"),
    (None, "search", "mapping of budgets"),
    ({"max_cores": 2.5}, "search.max_cores", "positive integer"),
    ({"max_cores": True}, "search.max_cores", "positive integer"),
    ({"max_cores": 0}, "search.max_cores", "positive integer"),
    ({"max_latency_s": "1ms"}, "search.max_latency_s", "finite number > 0"),
    ({"max_latency_s": float("nan")}, "search.max_latency_s", "finite number > 0"),
    ({"max_energy_j": float("inf")}, "search.max_energy_j", "finite number > 0"),
    ({"max_energy_j": -1e-6}, "search.max_energy_j", "finite number > 0"),
    ({"max_link_util": 1.5}, "search.max_link_util", "(0, 1]"),
    ({"max_link_util": 0}, "search.max_link_util", "(0, 1]"),
    ({"max_energy_j": {"value": 1e-5}}, "search.max_energy_j.why", "non-empty text"),
    ({"max_energy_j": {"why": "x"}}, "search.max_energy_j.value", "missing"),
    ({"max_energy_j": {"value": 0, "why": "x"}}, "search.max_energy_j.value", "> 0"),
    ({"max_energy_j": {"value": 1e-5, "source": "x"}}, "search.max_energy_j.source", "unknown"),
]


@pytest.mark.parametrize(("search", "field", "words"), BAD)
def test_bad_search_section_names_file_and_field(tmp_path: Path, search: Any, field: str,
                                                 words: str) -> None:
    path = profile(tmp_path, search)
    with pytest.raises(HwsimInputError) as info:
        load_chip(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: {field}: ") and words in msg and "\n" not in msg


@settings(max_examples=60, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_link_util_budget_accepted_exactly_in_zero_to_one(x: float) -> None:
    data = {"base": "loihi2", "name": "t", "description": "t", "search": {"max_link_util": x}}
    if 0 < x <= 1:
        assert parse_chip(data, "t.yaml").search_budgets["max_link_util"] == x
    else:
        with pytest.raises(HwsimInputError, match=r"^t\.yaml: search\.max_link_util: "):
            parse_chip(data, "t.yaml")


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.integers(-5, 5), st.floats(allow_nan=True), st.booleans(), st.text(max_size=3)))
def test_core_budget_accepted_only_as_a_positive_integer(x: Any) -> None:
    data = {"base": "loihi2", "name": "t", "description": "t", "search": {"max_cores": x}}
    if isinstance(x, int) and not isinstance(x, bool) and x >= 1:
        assert parse_chip(data, "t.yaml").search_budgets["max_cores"] == x
    else:
        with pytest.raises(HwsimInputError, match=r"^t\.yaml: search\.max_cores: "):
            parse_chip(data, "t.yaml")


def test_base_profile_search_section_is_inherited_key_by_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chips = tmp_path / "chips"
    chips.mkdir()
    base = yaml.safe_load((builtin_chip_dir() / "generic-mesh.yaml").read_text())
    base["search"] = {"max_cores": 8, "max_energy_j": 1.0}
    (chips / "based.yaml").write_text(yaml.safe_dump(base))
    monkeypatch.setattr(hwsim.chip.profile, "builtin_chip_dir", lambda: chips)
    child = {"base": "based", "name": "c", "description": "c", "search": {"max_energy_j": 2.0}}
    assert dict(parse_chip(child, "c.yaml").search_budgets) == {"max_cores": 8, "max_energy_j": 2.0}
    bare = {"base": "based", "name": "c", "description": "c"}
    assert dict(parse_chip(bare, "c.yaml").search_budgets) == {"max_cores": 8, "max_energy_j": 1.0}


# -- budgets in force: the profile's, each overridden by an option ----------------------------
def test_profile_defaults_apply_and_the_binding_names_the_option_and_profile(
    tmp_path: Path, rec: Any
) -> None:
    e = measured(G, 100.0)
    path = profile(tmp_path, {"max_latency_s": rec.time_per_timestep_s / 2})
    c = cost(path)
    assert c.budgets.max_latency_s == pytest.approx(rec.time_per_timestep_s / 2)
    assert math.isinf(c.cost(e))
    why = c.binding(e)
    assert why is not None and "--max-latency" in why and str(path) in why and "override" in why


def test_an_option_overrides_one_default_and_keeps_the_others(tmp_path: Path, rec: Any) -> None:
    e = measured(G, 100.0)
    path = profile(tmp_path, {"max_latency_s": rec.time_per_timestep_s / 2,
                              "max_energy_j": rec.energy_total_j * 10, "max_cores": 100})
    loose = rec.time_per_timestep_s * 2
    c = cost(path, Budgets(max_latency_s=loose))
    assert c.budgets.to_dict() == {"max_cores": 100, "max_latency_s": loose,
                                   "max_energy_j": pytest.approx(rec.energy_total_j * 10),
                                   "max_link_util": None}
    assert c.budgets.origins() == {"max_cores": "profile", "max_latency_s": "cli",
                                   "max_energy_j": "profile", "max_link_util": None}
    assert c.budgets.profile == str(path)
    assert c.binding(e) is None and math.isfinite(c.cost(e))
    # an option that binds is named without the profile note (the user typed it)
    tight = cost(path, Budgets(max_latency_s=loose, max_energy_j=rec.energy_total_j / 2))
    why = tight.binding(e)
    assert why is not None and "--max-energy" in why and str(path) not in why


def test_without_a_search_section_nothing_comes_from_the_profile(rec: Any) -> None:
    c = cost("loihi2", Budgets(max_cores=64))
    assert c.budgets.origins() == {"max_cores": "cli", "max_latency_s": None,
                                   "max_energy_j": None, "max_link_util": None}
    assert c.budgets.profile is None and c.budgets.active
    assert not cost("loihi2").budgets.active


def test_core_budget_from_the_profile_that_does_not_fit_names_the_profile(tmp_path: Path) -> None:
    path = profile(tmp_path, {"max_cores": 1})
    why = cost(path).binding(measured(G, 100.0))
    assert why is not None and why.startswith("does not fit") and "--max-cores" in why
    assert str(path) in why


def test_a_profile_budget_nothing_meets_is_one_line_naming_the_profile(
    tmp_path: Path, rec: Any
) -> None:
    path = profile(tmp_path, {"max_energy_j": rec.energy_total_j / 100})
    c = cost(path)
    with pytest.raises(AutosnnError) as info:
        c.reference_cost([measured(G, 100.0), measured(G, 50.0)])
    msg = str(info.value)
    assert "--max-energy" in msg and str(path) in msg and "\n" not in msg
    assert "--max-energy" in (c.binding(measured(G, 100.0)) or "")


# -- the CLI ----------------------------------------------------------------------------------
def invoke(*args: str | Path) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args])


def test_cli_budgets_without_chip_are_an_error(tmp_path: Path) -> None:
    result = invoke("search", "--out", tmp_path, "--max-energy", "1e-5", "-q")
    assert result.exit_code == 2 and "need --chip" in result.output


def test_cli_bad_profile_budget_fails_before_loading_the_supernet(tmp_path: Path) -> None:
    path = profile(tmp_path, {"max_link_util": 2})
    # no super-network in --out: the profile is checked first
    result = invoke("search", "--out", tmp_path / "run", "--chip", path, "-q")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and f"{path}: search.max_link_util:" in lines[0]


@pytest.mark.parametrize("option", ["--max-cores", "--max-latency", "--max-energy",
                                    "--max-link-util"])
def test_cli_help_says_the_profile_gives_the_defaults(option: str) -> None:
    import typer.main

    search = typer.main.get_command(app).commands["search"]  # type: ignore[attr-defined]
    helps = {p.opts[0]: p.help for p in search.params}
    assert "search: section" in helps[option]


@pytest.mark.usefixtures("one_thread")
def test_search_records_where_every_budget_came_from(tmp_path: Path) -> None:
    out = tmp_path / "run"
    tiny = ["--dataset", "synthetic", "--limit", "32", "--preset", "quick", "--seed", "0",
            "--channels", "4", "--timesteps", "2"]
    result = invoke("supernet", *tiny, "--epochs", "1", "--batch-size", "16", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    path = profile(tmp_path, {"max_cores": 100, "max_energy_j": {"value": 1.0, "why": "loose"},
                              "max_latency_s": 1e-12})
    search = ["search", "--out", out, "--chip", path, "--lambda", "0", "--lambda", "-0.24",
              "--rounds", "1", "--pool", "4", "--top-k", "2", "--mutations", "1",
              "--crossovers", "1", "--preset", "quick", "-q"]
    # the profile's 1 ps latency budget is met by nothing: one line naming the profile
    result = invoke(*search)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "--max-latency" in lines[0] and str(path) in lines[0]
    # overriding it on the command line keeps the other two from the profile
    result = invoke(*search, "--max-latency", "1")
    assert result.exit_code == 0, result.output
    want = {"max_cores": "profile", "max_latency_s": "cli", "max_energy_j": "profile",
            "max_link_util": None}
    chip = json.loads((out / "search.json").read_text())["chip"]
    assert chip["budget_origins"] == want and chip["budget_profile"] == str(path)
    assert chip["budgets"] == {"max_cores": 100, "max_latency_s": 1.0, "max_energy_j": 1.0,
                               "max_link_util": None}
    sweep = json.loads((out / "sweep.json").read_text())
    assert sweep["budget_origins"] == want and sweep["budget_profile"] == str(path)
    line = next(x for x in (out / "report.md").read_text().splitlines() if "budgets:" in x)
    assert f"max_cores 100 (search: section of {path}, override with --max-cores)" in line
    assert "max_latency_s 1 (--max-latency)" in line and "why: loose" in line
