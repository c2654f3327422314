"""hwsim estimate --uncertainty: the profile's ranges bracket the estimate, and the figure that
moves the result most is named."""

from __future__ import annotations

from dataclasses import replace

import pytest
from typer.testing import CliRunner

from hwsim import estimate
from hwsim.cli import app
from hwsim.uncertainty import uncertainty
from tests.test_hwsim_model import two_layer_activity, two_layer_chip, two_layer_graph


def _cost(chip):
    return estimate(two_layer_graph(), two_layer_activity(), chip, placement="sequential")


def test_ranges_bracket_the_point_and_the_widest_swing_is_named() -> None:
    # synaptic energy may be off by 10x, the hop energy by 1 %: the synapses dominate
    chip = replace(two_layer_chip(), ranges={"energy_synop_j": (0.1e-12, 10e-12),
                                             "energy_hop_j": (2.97e-12, 3.03e-12)})
    u = uncertainty(_cost, chip)
    point, low, high = (u.point["energy_dynamic_j"], u.low["energy_dynamic_j"],
                        u.high["energy_dynamic_j"])
    assert low < point < high
    assert u.dominant("energy_dynamic_j").figure == "energy_synop_j"
    synops = _cost(chip).synops
    # the synaptic term alone moves by synops x (10 - 0.1) pJ
    assert u.dominant("energy_dynamic_j").width == pytest.approx(synops * 9.9e-12, rel=1e-9)
    assert u.dominant("time_per_timestep_s") is None  # no latency figure has a range


def test_without_ranges_low_and_high_are_the_point() -> None:
    u = uncertainty(_cost, two_layer_chip())
    assert u.low == u.point == u.high
    assert all(not s for s in u.swings.values())


def test_the_cli_prints_the_bracket_for_a_fitted_profile(tmp_path) -> None:
    import autosnn
    from exporters import export  # a real exported network on the calibrated Loihi 2 profile

    path = tmp_path / "net.nir"
    export(autosnn.build(channels=2, timesteps=1), "nir", path)
    res = CliRunner().invoke(app, ["estimate", str(path), "--chip", "loihi2", "--uncertainty"])
    assert res.exit_code == 0, res.output
    assert "energy_total_j" in res.output and "moved most by" in res.output


def test_board_idle_power_is_reported_beside_the_chip_energy_not_in_it() -> None:
    chip = replace(two_layer_chip(), power_static_w=0.5, power_board_idle_w=2.0)
    rec = _cost(chip)
    assert rec.energy_static_j == pytest.approx(0.5 * rec.latency_per_inference_s)
    assert rec.energy_board_idle_j == pytest.approx(2.0 * rec.latency_per_inference_s)
    assert rec.energy_total_j == pytest.approx(rec.energy_dynamic_j + rec.energy_static_j)


def test_loihi_s_board_idle_draw_is_blouw_s_measurement_not_chip_power() -> None:
    from hwsim import load_chip

    loihi = load_chip("loihi")
    assert loihi.power_board_idle_w == pytest.approx(0.029)
    assert loihi.power_static_w == 0.0 and loihi.ranges["power_static_w"] == (0.0, 0.029)
