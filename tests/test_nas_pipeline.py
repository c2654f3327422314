"""A tiny end-to-end run (super-network -> search -> retrain -> eval) on synthetic data, through
the CLI, plus training resume and the ANN variant."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import autosnn
from autosnn.app.cli import app
from autosnn.core.config import TrainConfig
from autosnn.data import load_dataset
from autosnn.train.fit import fit, spike_regulariser

pytestmark = pytest.mark.usefixtures("one_thread")


TINY = ["--dataset", "synthetic", "--limit", "64", "--preset", "quick", "--seed", "0"]
NET = ["--channels", "4", "--timesteps", "2"]
SEARCH = ["--rounds", "2", "--pool", "6", "--top-k", "3", "--mutations", "2",
          "--crossovers", "2"]


def cli(*args: str | Path) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("nas")
    cli("supernet", *TINY, *NET, "--epochs", "1", "--batch-size", "16", "--out", out, "-q")
    cli("search", "--out", out, "--lambda", "0", "--lambda", "-0.24", *SEARCH, "--preset",
        "quick", "-q")
    return out


def test_supernet_checkpoint_records_spikes_avg(run_dir):
    net = autosnn.load(run_dir / "supernet.pt")
    assert net.config.kind == "supernet"
    extra = net.extra
    assert extra["spikes_avg"] > 0
    assert extra["spikes_avg"] == extra["history"][-1]["spikes"]
    assert extra["data"]["dataset"] == "synthetic"


def test_search_json_lists_every_candidate_with_fitness_per_lambda(run_dir):
    doc = json.loads((run_dir / "search.json").read_text())
    entries = doc["candidates_evaluated"]
    genos = [e["genotype"] for e in entries]
    assert len(genos) == len(set(genos)) >= 12  # >= 2 rounds x 6, shared across lambdas
    for e in entries:
        assert set(e["fitness"]) == {"0", "-0.24"}
        assert 0.0 <= e["accuracy"] <= 1.0 and e["spikes"] > 0 and e["round"] in (1, 2)
        assert e["fitness"]["0"] == e["accuracy"]
        ratio = e["spikes"] / doc["supernet"]["spikes_avg"]
        assert e["fitness"]["-0.24"] == pytest.approx(e["accuracy"] * ratio**-0.24)
    for key in ("0", "-0.24"):
        lam_entries = [e for e in entries if key in e["rounds"]]
        assert len(lam_entries) == 12
        w = json.loads((run_dir / f"winner-{key}.json").read_text())
        best = max(e["fitness"][key] for e in lam_entries)
        assert w["fitness"] == best
        assert doc["winners"][key]["genotype"] == w["genotype"]
    assert (run_dir / "pareto.png").stat().st_size > 1000


def test_winner_checkpoint_loads_and_holds_supernet_weights(run_dir):
    w = json.loads((run_dir / "winner--0.24.json").read_text())
    model = autosnn.load(run_dir / w["checkpoint"])
    assert ",".join(model.genotype) == w["genotype"]
    supernet = autosnn.load(run_dir / "supernet.pt")
    sd = supernet.state_dict()
    for k, v in model.state_dict().items():
        assert torch.equal(v, sd[k])


def test_retrain_and_eval_with_activity(run_dir, tmp_path):
    train_out = tmp_path / "train"
    cli("train", "--winner", run_dir / "winner-0.json", *TINY, "--epochs", "1",
        "--batch-size", "16", "--cutout", "8", "--out", train_out, "-q")
    summary = json.loads((train_out / "train.json").read_text())
    assert summary["train"]["cutout"] == 8  # the option given, recorded
    assert len(summary["history"]) == 1
    model = autosnn.load(train_out / "model.pt")
    supernet = autosnn.load(run_dir / "supernet.pt")
    trained_from_scratch = any(
        not torch.equal(v, supernet.state_dict()[k]) for k, v in model.state_dict().items()
    )
    assert trained_from_scratch
    act = tmp_path / "act.npz"
    report = tmp_path / "eval.json"
    out = cli("eval", train_out / "model.pt", *TINY, "--activity", act, "--json", report)
    assert "accuracy" in out and "spikes/img" in out
    res = json.loads(report.read_text())
    arrays = np.load(act)
    assert int(arrays["T"]) == 2 and int(arrays["samples"]) == res["samples"] == 50
    layers = [k for k in arrays.files if k not in ("T", "samples", "input")]
    assert layers == list(res["per_layer"])
    total = sum(arrays[k].sum() for k in layers)  # counts are per sample
    assert total == pytest.approx(res["spikes"], rel=1e-6)
    for name in layers:  # per timestep: (T, *neuron_shape)
        assert arrays[name].shape[0] == 2
        assert arrays[name].size == 2 * res["neurons"][name]
        assert 0.0 <= res["firing_rate"][name] <= 1.0
    assert arrays["input"].shape == (2, *model.config.input_shape)
    # hwsim reads the same file against the exported NIR graph: every key names a spiking node
    import hwsim
    from exporters.nir_export import to_nir

    network = hwsim.network_from_nir(to_nir(model))
    activity = hwsim.load_activity(act, network)
    assert set(activity.counts) == set(layers) | {"input"}
    rec = hwsim.estimate(network, activity, "loihi2")
    assert rec.spikes == pytest.approx(res["spikes"], rel=1e-3)


def test_train_resume_continues_exactly(tmp_path):
    data = load_dataset("synthetic", limit=32)
    cfg = TrainConfig(epochs=2, batch_size=16, seed=3)

    def fresh():
        torch.manual_seed(0)
        return autosnn.build("snn1", "SRB_k3,skip,SCB_k3,skip,SRB_k3", 4, 10, (3, 32, 32), 2)

    straight = fresh()
    fit(straight, data.train, cfg, state_path=tmp_path / "a.pt", resume=False)
    first = fresh()
    fit(first, data.train, TrainConfig(epochs=1, batch_size=16, seed=3),
        state_path=tmp_path / "b.pt", resume=False)
    resumed = fresh()
    hist = fit(resumed, data.train, cfg, state_path=tmp_path / "b.pt", resume=True)
    assert [h.epoch for h in hist] == [0, 1]
    for k, v in straight.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k


def test_spike_regulariser_pushes_spikes_down():
    torch.manual_seed(0)
    net = autosnn.build("snn1", "SRB_k3,skip,SCB_k3,skip,SRB_k3", 4, 10, (3, 32, 32), 2)
    for _, m in net.active_spiking_layers():
        m.keep_output = True
    net(torch.randn(4, 3, 32, 32) * 3)
    reg = spike_regulariser(net)
    reg.backward()
    assert reg.item() > 0
    assert net.stem.conv.conv.weight.grad.abs().sum() > 0


def test_ann_variant_searches_on_accuracy_and_rebuilds_the_winner_with_plif(tmp_path):
    cli("supernet", *TINY, *NET, "--epochs", "1", "--batch-size", "16", "--neuron", "relu",
        "--out", tmp_path, "-q")
    assert autosnn.load(tmp_path / "supernet.pt").extra["spikes_avg"] == 0
    result = CliRunner().invoke(app, ["search", "--out", str(tmp_path), "--lambda", "-0.1",
                                      *SEARCH, "-q"])
    assert result.exit_code == 2 and "--lambda 0" in result.output
    cli("search", "--out", tmp_path, "--lambda", "0", *SEARCH, "-q")
    doc = json.loads((tmp_path / "search.json").read_text())
    assert doc["ann_variant"] is True
    assert all(e["fitness"]["0"] == e["accuracy"] for e in doc["candidates_evaluated"])
    winner = autosnn.load(tmp_path / "winner-0.pt")
    assert winner.config.neuron == "plif"
    assert winner.active_spiking_layers()


def test_random_search_has_the_same_budget(run_dir, tmp_path):
    (tmp_path / "supernet.pt").symlink_to(run_dir / "supernet.pt")
    cli("search", "--out", tmp_path, "--lambda", "-0.24", "--method", "random", *SEARCH, "-q")
    doc = json.loads((tmp_path / "search.json").read_text())
    assert doc["search"]["method"] == "random"
    assert len(doc["candidates_evaluated"]) == 12


def test_search_refuses_settings_that_differ_from_the_supernet(run_dir, tmp_path):
    result = CliRunner().invoke(app, ["search", "--supernet", str(run_dir / "supernet.pt"),
                                      "--out", str(tmp_path), "--channels", "8", "-q"])
    assert result.exit_code == 2 and "channels 4, not 8" in result.output


def test_train_zoo_model_from_scratch(tmp_path):
    cli("train", "--model", "cifarnet-fang", *TINY, *NET, "--epochs", "1", "--batch-size", "32",
        "--out", tmp_path, "-q")
    model = autosnn.load(tmp_path / "model.pt")
    assert model.config.kind == "zoo" and model.config.name == "cifarnet-fang"
    assert 0.0 <= model.extra["test_accuracy"] <= 1.0


def test_search_for_a_chip_discounts_energy_and_reports_chip_figures(run_dir, tmp_path):
    (tmp_path / "supernet.pt").symlink_to(run_dir / "supernet.pt")
    cli("search", "--out", tmp_path, "--lambda", "0", "--lambda", "-0.5", "--chip", "loihi2.yaml",
        "--finalists", "2", "--finalist-limit", "30", "--max-acc-drop", "100", *SEARCH, "-q")
    doc = json.loads((tmp_path / "search.json").read_text())
    fin = doc["chip"]["finalists"]
    assert fin["per_lambda"] == 2 and fin["samples"] == 30 and fin["max_acc_drop_pp"] == 100
    assert 2 <= len(fin["entries"]) <= 4
    # any accuracy is within 100 pp: the cheapest feasible finalist is chosen
    cheapest = min((e for e in fin["entries"] if e["feasible"]), key=lambda e: e["cost"])
    assert doc["chip"]["chosen"]["genotype"] == cheapest["genotype"]
    assert doc["chip"]["chosen"]["reason"].startswith("lambdas given explicitly; cheapest")
    assert doc["chip"]["profile"] == "loihi2" and doc["chip"]["reference_cost"] > 0
    entries = doc["candidates_evaluated"]
    for key in ("0", "-0.5"):
        w = doc["winners"][key]
        assert w["chip"]["feasible"] and w["chip"]["energy_per_inference_j"] > 0
        scored = [e for e in entries if key in e["fitness"] and key in e["rounds"]]
        assert w["fitness"] == max(e["fitness"][key] for e in scored)
    # lambda 0 ignores the chip: fitness is accuracy; lambda -0.5 discounts by chip energy
    assert all(e["fitness"]["0"] == e["accuracy"] for e in entries if "0" in e["fitness"])
    assert any(e["fitness"]["-0.5"] != e["accuracy"] for e in entries)


def test_linear_form_on_a_chip_is_recorded_and_applied(run_dir, tmp_path):
    (tmp_path / "supernet.pt").symlink_to(run_dir / "supernet.pt")
    cli("search", "--out", tmp_path, "--lambda", "-0.5", "--fitness", "linear", "--chip",
        "loihi2", *SEARCH, "-q")
    doc = json.loads((tmp_path / "search.json").read_text())
    assert doc["fitness"]["form"] == "linear" and "energy" in doc["fitness"]["cost"]
    ref = doc["fitness"]["cost_ref"]
    for e in doc["candidates_evaluated"]:
        if e["feasible"]:
            want = e["accuracy"] * (1 - 0.5 * (e["cost"] / ref - 1))
            assert e["fitness"]["-0.5"] == pytest.approx(want)


def test_chip_search_chooses_lambda_per_chip_and_writes_the_report(run_dir, tmp_path):
    # One super-network searched for Loihi 2 and for Loihi: each choice feasible on its own
    # chip, made among the finalists of the sweep, and the two chips' costs differ. TrueNorth
    # runs only IF neurons (and few distinct weights per neuron): the PLIF space is refused
    # before any evaluation, in one line (which rule it names is hwsim's attribution).
    costs = {}
    for chip in ("loihi2", "loihi"):
        out = tmp_path / chip
        out.mkdir()
        (out / "supernet.pt").symlink_to(run_dir / "supernet.pt")
        cli("search", "--out", out, "--chip", chip, *SEARCH, "-q")  # --lambda auto by default
        doc = json.loads((out / "search.json").read_text())
        chosen = doc["chip"]["chosen"]
        assert chosen["reason"].startswith("cheapest of the")
        assert len(doc["winners"]) == 6  # the preset's lambda grid, one trained super-network
        fin = doc["chip"]["finalists"]
        entries = {e["genotype"]: e for e in fin["entries"]}
        assert len(entries) == len(fin["entries"])  # deduplicated
        tops = {w["genotype"] for w in doc["winners"].values()}
        assert tops <= set(entries)  # every lambda's winner is a finalist ...
        assert all(1 <= r <= 3 for e in entries.values() for r in e["ranks"].values())
        assert fin["samples"] == 40  # ... re-measured on the whole D_val (synthetic: 40)
        for e in entries.values():
            lo, hi = e["interval_95"]
            assert lo <= e["accuracy"] <= hi and 0 <= lo < hi <= 1
        w = entries[chosen["genotype"]]
        assert fin["chosen"] == chosen["genotype"] and w["feasible"] and w["binding"] is None
        # the rule: no feasible finalist is cheaper and not significantly less accurate
        assert all(e["cost"] >= w["cost"] or e["versus_best_pp"]["high"] < 0
                   for e in entries.values() if e["feasible"])
        assert json.loads((out / "winner.json").read_text())["genotype"] == chosen["genotype"]
        sweep = json.loads((out / "sweep.json").read_text())
        assert sweep["chosen"] == chosen and len(sweep["lambdas"]) == 6
        for name in ("report.md", "winner.nir", "hwsim-report.json", "pareto.png", "winner.pt"):
            assert (out / name).stat().st_size > 0, name
        report = (out / "report.md").read_text()
        assert f"**Deploy `{chosen['genotype']}`** (lambda chosen: **{chosen['key']}**" in report
        rows = [x for x in report.splitlines() if x.startswith("| ") and "`" in x]
        assert len(rows) == len(entries)  # one row per distinct finalist, no repeats
        assert sum("**chosen**" in x for x in rows) == 1
        costs[chip] = w["energy_per_inference_j"]
        rejected = doc["chip"]["rejected_before_evaluation"]["count"]
        assert f"{rejected} rejected before evaluation" in report
    assert costs["loihi2"] != costs["loihi"]
    out = tmp_path / "truenorth"
    out.mkdir()
    (out / "supernet.pt").symlink_to(run_dir / "supernet.pt")
    result = CliRunner().invoke(app, ["search", "--out", str(out), "--chip", "truenorth",
                                      *SEARCH, "-q"])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "chip truenorth: none of" in result.output and "the rule that refuses" in result.output
    assert not (out / "search.json").exists()


def test_a_budget_nothing_meets_is_one_line_naming_the_constraint(run_dir, tmp_path):
    (tmp_path / "supernet.pt").symlink_to(run_dir / "supernet.pt")
    result = CliRunner().invoke(app, ["search", "--out", str(tmp_path), "--chip", "loihi2",
                                      "--max-cores", "1", *SEARCH, "-q"])
    assert result.exit_code == 2
    assert "max-cores" in result.output and len(result.output.strip().splitlines()) == 1
