"""The deployed network is what is budgeted: `autosnn train --winner` of a chip-search winner
costs the retrained network on the chip, fine-tunes it toward the search's budgets, and says in
one line when it cannot meet them (issue 23)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import autosnn
from autosnn.app.chipcost import Budgets
from autosnn.app.cli import app
from autosnn.app.deployed import (
    AIM_MARGIN,
    DeployTarget,
    Measured,
    aim_spikes,
    cost_json,
    keep_within_budget,
    target_from_winner,
)
from autosnn.core.errors import AutosnnError
from autosnn.core.progress import Reporter
from autosnn.train.fit import spike_regulariser
from tests.test_chipcost import G, T, chip, measured

pytestmark = pytest.mark.usefixtures("one_thread")


def test_target_regulariser_penalises_only_firing_above_the_target() -> None:
    torch.manual_seed(0)
    net = autosnn.build("snn1", ",".join(G), 4, 10, (3, 32, 32), 2)
    for _, m in net.active_spiking_layers():
        m.keep_output = True
    net(torch.randn(4, 3, 32, 32) * 3)
    mean = spike_regulariser(net).item()
    assert mean > 0
    assert spike_regulariser(net, mean + 0.01).item() == 0.0  # below target: no pull
    above = spike_regulariser(net, mean / 2)
    assert above.item() == pytest.approx(mean / 2, rel=1e-5)
    above.backward()
    assert net.stem.conv.conv.weight.grad.abs().sum() > 0


def _loop(per_step: float, budgets: Budgets, rounds: int, shrink_to: float):
    """keep_within_budget over a real Loihi 2 cost, with a toy network whose activity each
    fine-tuning round multiplies by ``shrink_to`` (no training: the loop's logic)."""
    state = {"per_step": per_step}
    calls: list[tuple[float, float, int]] = []

    def measure_now() -> Measured:
        return Measured(measured(G, state["per_step"]), rate=0.1, samples=8)

    def fine_tune(beta: float, rate: float, round_: int) -> None:
        calls.append((beta, rate, round_))
        state["per_step"] *= shrink_to

    model = chip("loihi2", budgets=budgets)
    target = DeployTarget("loihi2", "greedy", "energy", budgets, searched_spikes=None)
    record = keep_within_budget(model, target, measure_now, fine_tune, rounds=rounds,
                                reporter=Reporter(quiet=True))
    return record, calls, model


def test_a_budget_the_trained_network_breaks_is_met_by_fine_tuning() -> None:
    # the budget lies between the network's energy at 200 and at 50 spikes per layer and step
    low, high = (chip().record(measured(G, x)).energy_total_j for x in (50.0, 200.0))
    budgets = Budgets(max_energy_j=(low + high) / 2)
    record, calls, _ = _loop(200.0, budgets, rounds=3, shrink_to=0.25)
    assert not record["before"]["budget_met"] and record["after"]["budget_met"]
    assert record["rounds"] == 1 and len(calls) == 1  # stops as soon as it holds
    b = record["after"]["budgets"][0]
    assert b["option"] == "--max-energy" and b["met"] and b["value"] <= b["limit"]
    assert record["before"]["energy_uj"] == pytest.approx(high * 1e6)
    assert record["after"]["energy_uj"] == pytest.approx(1e6 * chip().record(
        measured(G, 50.0)).energy_total_j)
    assert record["message"] is None


def test_a_budget_fine_tuning_cannot_meet_is_one_line_with_the_numbers() -> None:
    floor = chip().record(measured(G, 1e-6)).energy_total_j  # static energy: spikes cannot go
    budgets = Budgets(max_energy_j=floor / 2)
    record, calls, _ = _loop(100.0, budgets, rounds=2, shrink_to=0.5)
    assert not record["budget_met"] and record["rounds"] == 2
    assert [c[0] for c in calls] == [1.0, 2.0]  # beta doubles per round
    assert calls[1][1] < calls[0][1]  # and the target firing rate drops
    msg = record["message"]
    assert "\n" not in msg and "--max-energy" in msg and f"{floor / 2:g}" in msg
    assert "budget_met: false" in msg


def _now(*budgets: tuple[str, float, float | None, bool]) -> dict:
    return {"budgets": [{"budget": n, "limit": lim, "value": v, "met": met}
                        for n, lim, v, met in budgets]}


def test_a_round_aims_where_the_searched_to_deployed_line_meets_the_budget() -> None:
    searched = {"energy_uj": 50.0, "latency_ms_per_step": 0.05}
    t = DeployTarget("loihi2", "greedy", "energy", Budgets(), 1000.0, searched)
    # 1,000 spikes cost 50 uJ in the search, 2,000 cost 150 uJ deployed: 100 uJ at 1,500
    now = _now(("max_energy_j", 100e-6, 150e-6, False))
    assert aim_spikes(t, now, 2000.0) == pytest.approx(AIM_MARGIN * 1500.0)
    # two broken budgets: the lower crossing (latency: 0.05 ms -> 0.25 ms, limit 0.1 ms at 1,250)
    both = _now(("max_energy_j", 100e-6, 150e-6, False), ("max_latency_s", 1e-4, 2.5e-4, False))
    assert aim_spikes(t, both, 2000.0) == pytest.approx(AIM_MARGIN * 1250.0)
    met = _now(("max_energy_j", 100e-6, 150e-6, False), ("max_latency_s", 1e-3, 2.5e-4, True))
    assert aim_spikes(t, met, 2000.0) == pytest.approx(AIM_MARGIN * 1500.0)  # met ones ignored
    # where the line is undefined: the searched activity
    assert aim_spikes(t, _now(("max_link_util", 0.5, 0.9, False)), 2000.0) == 1000.0
    assert aim_spikes(t, now, 900.0) == 1000.0  # fires less than the searched network
    blind = DeployTarget("loihi2", "greedy", "energy", Budgets(), 1000.0, None)
    assert aim_spikes(blind, now, 2000.0) == 1000.0
    assert aim_spikes(DeployTarget("loihi2", "greedy", "energy", Budgets(), None), now,
                      2000.0) is None


def test_aiming_at_the_budget_keeps_more_activity_than_aiming_at_the_search() -> None:
    """A toy network that fires exactly at the round's target: aimed at the budget it ends
    within it with more spikes (less accuracy given up) than the searched network's."""
    c = chip()
    at = {x: c.record(measured(G, x)).energy_total_j for x in (20.0, 40.0)}
    n_layers = len(measured(G, 1.0).activity) - 1
    per_img = {x: x * T * n_layers for x in at}  # spikes per image at x per layer and step
    budgets = Budgets(max_energy_j=(at[20.0] + at[40.0]) / 2)
    state = {"x": 40.0}

    def measure_now() -> Measured:
        return Measured(measured(G, state["x"]), rate=state["x"] / 100, samples=8)

    def fine_tune(beta: float, rate: float, round_: int) -> None:
        state["x"] = rate * 100

    searched = {"energy_uj": at[20.0] * 1e6}
    target = DeployTarget("loihi2", "greedy", "energy", budgets, per_img[20.0], searched)
    record = keep_within_budget(chip("loihi2", budgets=budgets), target, measure_now, fine_tune,
                                rounds=3, reporter=Reporter(quiet=True))
    assert record["budget_met"] and record["rounds"] == 1
    assert record["after"]["spikes"] > 1.2 * per_img[20.0]  # the searched activity: 20 per step


def test_rounds_zero_costs_and_reports_without_fine_tuning() -> None:
    record, calls, _ = _loop(200.0, Budgets(max_energy_j=1e-12), rounds=0, shrink_to=0.5)
    assert calls == [] and record["rounds"] == 0 and record["budget_met"] is False
    assert record["message"] is not None


def test_cost_json_lists_every_budget_set_with_limit_value_met() -> None:
    rec = chip().record(measured(G, 100.0))
    budgets = Budgets(max_cores=rec.cores_used, max_latency_s=rec.time_per_timestep_s / 2)
    c = cost_json(chip("loihi2", budgets=budgets), measured(G, 100.0))
    by = {b["budget"]: b for b in c["budgets"]}
    assert set(by) == {"max_cores", "max_latency_s"}
    assert by["max_cores"]["met"] and not by["max_latency_s"]["met"]
    assert by["max_latency_s"]["value"] == pytest.approx(rec.time_per_timestep_s)
    assert c["latency_ms_per_step"] == pytest.approx(rec.time_per_timestep_s * 1e3)
    assert c["cores"] == rec.cores_used and c["budget_met"] is False


def test_winner_chip_section_is_read_and_hostile_values_name_file_and_field(tmp_path) -> None:
    where = tmp_path / "winner.json"
    assert target_from_winner({"genotype": "x"}, where) is None  # a plain search's winner
    t = target_from_winner({"spikes": 10.0, "chip": {"chip": "loihi2", "budgets": {
        "max_energy_j": 2e-5, "max_cores": 64.0, "max_latency_s": None}}}, where)
    assert t is not None and t.chip == "loihi2" and t.searched_spikes == 10.0
    assert t.budgets.max_energy_j == 2e-5 and t.budgets.max_cores == 64
    for chip_section, field in [
        ({"chip": 3}, "chip.profile"),
        ({"chip": "loihi2", "budgets": {"max_watts": 1}}, "chip.budgets"),
        ({"chip": "loihi2", "budgets": {"max_energy_j": -1}}, "chip.budgets.max_energy_j"),
        ({"chip": "loihi2", "budgets": {"max_energy_j": True}}, "chip.budgets.max_energy_j"),
        ({"chip": "loihi2", "placement": 5}, "chip.placement"),
    ]:
        with pytest.raises(AutosnnError, match=f"{where}: field {field}"):
            target_from_winner({"chip": chip_section}, where)
    with pytest.raises(AutosnnError, match="field spikes"):
        target_from_winner({"spikes": "many", "chip": {"chip": "loihi2"}}, where)
    for doc, field in [({"accuracy": "high"}, "accuracy"),
                       ({"chip": {"energy_per_inference_j": -1.0}}, "chip.energy_per_inference_j"),
                       ({"chip": {"cores_used": float("nan")}}, "chip.cores_used")]:
        doc["chip"] = {"chip": "loihi2", **doc.get("chip", {})}
        with pytest.raises(AutosnnError, match=f"{where}: field {field}"):
            target_from_winner(doc, where)


# -- through the CLI: a hand-written chip winner on synthetic data -----------------------------
TINY = ["--dataset", "synthetic", "--limit", "32", "--preset", "quick", "--seed", "0",
        "--epochs", "1", "--batch-size", "16", "-q"]


def _winner(tmp_path: Path, budgets: dict, figures: dict | None = None) -> Path:
    path = tmp_path / "winner.json"
    path.write_text(json.dumps({
        "lambda": -0.1, "genotype": ",".join(G), "accuracy": 0.5, "spikes": 50.0,
        "space": "snn1", "channels": 4, "timesteps": 2, "neuron": "plif",
        "chip": {"chip": "loihi2", "profile": "loihi2", "placement": "greedy",
                 "metric": "energy", "budgets": budgets, **(figures or {})}}))
    return path


def _table_row(report: str, label: str) -> list[str]:
    rows = [r for r in report.splitlines() if r.startswith(f"| {label}")]
    assert len(rows) == 1, report
    return [c.strip() for c in rows[0].strip("|").split("|")]


def test_report_md_puts_the_searched_and_the_deployed_figures_side_by_side(
        tmp_path: Path) -> None:
    out = tmp_path / "train"
    searched = {"energy_per_inference_j": 4.321e-5, "time_per_timestep_s": 6.5e-5,
                "cores_used": 17}
    result = CliRunner().invoke(app, ["train", "--winner", str(_winner(
        tmp_path, {"max_cores": 120}, searched)), *TINY, "--out", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    record = json.loads((out / "train.json").read_text())["budget"]
    report = (out / "report.md").read_text()
    assert report.startswith("# Deployed network on loihi2")
    row = _table_row(report, "searched")
    assert row[1] == "50.00 %" and row[4] == "43.21" and row[5] == "0.065" and row[6] == "17"
    row = _table_row(report, "retrained, as trained")
    before = record["before"]
    assert float(row[4]) == pytest.approx(before["energy_uj"], rel=1e-3)
    assert float(row[5]) == pytest.approx(before["latency_ms_per_step"], rel=1e-3)
    assert int(row[6]) == before["cores"] and row[2] == f"{100 * before['test_accuracy']:.2f} %"
    assert row[7] == ("yes" if before["cores"] <= 120 else "no")
    assert "Within every budget" in report and "| `--max-cores` | 120 cores | 17 cores |" in report


def test_train_refuses_an_out_folder_holding_a_search_report(tmp_path: Path) -> None:
    (tmp_path / "report.md").write_text("# Chip search report: loihi2\n")
    result = CliRunner().invoke(app, ["train", "--winner", str(_winner(tmp_path, {})), *TINY,
                                      "--out", str(tmp_path)])
    assert result.exit_code == 2 and "report.md" in result.output
    assert (tmp_path / "report.md").read_text() == "# Chip search report: loihi2\n"
    assert not (tmp_path / "model.pt").exists()


def test_train_of_a_chip_winner_that_cannot_meet_its_budget_says_so_and_writes_the_model(
        tmp_path: Path) -> None:
    out = tmp_path / "train"
    result = CliRunner().invoke(app, ["train", "--winner", str(_winner(tmp_path, {
        "max_energy_j": 1e-12})), *TINY, "--budget-rounds", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    lines = [ln for ln in result.output.splitlines() if "does not meet" in ln]
    assert len(lines) == 1 and "--max-energy 1e-12" in lines[0]
    doc = json.loads((out / "train.json").read_text())["budget"]
    assert doc["budget_met"] is False and doc["rounds"] == 1
    for stage in ("before", "after"):
        assert {"energy_uj", "latency_ms_per_step", "cores", "budgets",
                "test_accuracy"} <= set(doc[stage])
        assert doc[stage]["budgets"][0]["limit"] == 1e-12
        assert doc[stage]["budgets"][0]["met"] is False
    assert (out / "model.pt").is_file()
    assert json.loads((out / "train.json").read_text())["test_accuracy"] == \
        doc["after"]["test_accuracy"]
    report = (out / "report.md").read_text()
    assert "**Over budget**" in report and "--max-energy 1e-12" in report
    assert _table_row(report, "after 1 budget round(s)")[7] == "no"
    assert "| `--max-energy` | 1e-06 uJ | n/a |" in report  # the winner file had no figures


def test_budget_rounds_train_on_a_seeded_draw_of_budget_samples(monkeypatch) -> None:
    import autosnn.train.fit as fit_mod
    from autosnn.app.deployed import fine_tune_epochs
    from autosnn.core.config import TrainConfig
    from autosnn.data import TensorSplit

    seen: list[list[int]] = []

    def record(net, split, cfg, optimizer, epoch, **_):  # the labels carry each image's index
        seen.append(split.labels.tolist())

    monkeypatch.setattr(fit_mod, "train_epoch", record)
    net = autosnn.build("snn1", ",".join(G), 4, 10, (1, 32, 32), 2)
    split = TensorSplit(torch.zeros(32, 1, 32, 32, dtype=torch.uint8), torch.arange(32))
    cfg = TrainConfig(epochs=1, batch_size=8)
    for samples in (8, 8, None):
        step = fine_tune_epochs(net, split, cfg, 1, None, samples)
        step(1.0, 0.1, 1)
        step(1.0, 0.1, 2)
    (a1, a2, b1, b2, all1, all2) = seen
    assert len(a1) == len(a2) == 8 and len(set(a1)) == 8 and a1 != a2  # a new draw per round
    assert (a1, a2) == (b1, b2)  # the same seed draws the same images
    assert sorted(all1) == sorted(all2) == list(range(32))


def test_budget_options_are_checked_at_the_boundary(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["train", "--genotype", ",".join(G), "--budget-rounds", "1",
                            "--out", str(tmp_path)])
    assert r.exit_code == 2 and "need" in r.output and "--winner" in r.output
    w = _winner(tmp_path, {})
    r = runner.invoke(app, ["train", "--winner", str(w), "--budget-rounds", "99",
                            "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--budget-rounds" in r.output
    r = runner.invoke(app, ["train", "--winner", str(w), "--no-budget-check",
                            "--budget-rounds", "2", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "cannot be combined" in r.output
    for bad in (["--budget-samples", "0"], ["--budget-samples", "many"]):
        r = runner.invoke(app, ["train", "--winner", str(w), *bad, "--out", str(tmp_path / "o")])
        assert r.exit_code == 2 and "--budget-samples" in r.output
    r = runner.invoke(app, ["train", "--genotype", ",".join(G), "--budget-samples", "5",
                            "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--winner" in r.output
    assert not (tmp_path / "o").exists()


def test_a_chip_search_winner_carries_what_the_retrained_network_is_held_to() -> None:
    budgets = Budgets(max_energy_j=3e-5, max_cores=40)
    doc = {"spikes": 12.0, "chip": chip("loihi2", budgets=budgets).deploy_target()}
    t = target_from_winner(doc, Path("winner.json"))  # what search writes, train reads back
    assert t is not None and t.budgets.to_dict() == budgets.to_dict()
    assert doc["chip"]["budget_origins"]["max_energy_j"] == "cli"
