"""Quantisation-aware training for Loihi 2 (autosnn.train.quantize, autosnn.core.fixed_point):
the fake-quantised forward is the Lava export's integer emulation spike for spike, the fixed
point is the exporter's, gradients flow straight through, and ``--quantize`` is validated."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import autosnn
from autosnn.core.config import TrainConfig
from autosnn.core.errors import AutosnnError
from autosnn.core.fixed_point import (
    LAVA_DT,
    fixed_decay,
    quantise_population,
    round_ste,
)
from autosnn.data import DatasetInfo, TensorSplit
from autosnn.train import fit as fit_mod
from autosnn.train.quantize import QuantizedNet, QuantizeError, quantized

# (space, genotype): residual blocks with identity and conv shortcuts, a chain, the factorised
# reduce (snn3's stride-2 skip), sum-pool neurons (snn4 avg-pool, snn2 global pooling)
NETS = [
    ("snn1", "SRB_k3,SRB_k3,SCB_k3,SRB_k3,skip"),
    ("snn1", "SCB_k3,SCB_k3,skip,SCB_k5,SCB_k3"),
    ("snn3", "SRB_k3,skip,SRB_k3,SCB_k3,SRB_k3,skip,SCB_k3,skip"),
    ("snn4", "SCB_k3,SRB_k3,skip,SRB_k3,SCB_k3"),
    ("snn2", "SRB_k3,SCB_k3,skip,SRB_k3,SCB_k3"),
]


def _net(space: str, genotype: str, seed: int = 0, C: int = 4, T: int = 2) -> autosnn.SpikingNet:
    """A tiny network with randomised BN statistics and time constants, so that every layer
    spikes and the rounding is exercised on non-trivial values."""
    torch.manual_seed(seed)
    net = autosnn.build(space, genotype, channels=C, num_classes=3, input_shape=(1, 32, 32),
                        timesteps=T)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.02, 0.1)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(0.0, 0.5)
        elif isinstance(m, autosnn.core.neuron.PLIF):
            m.w.data.uniform_(-1.5, 2.0)
    for fc in net.head.fcs:
        assert isinstance(fc, nn.Linear)
        fc.weight.data.uniform_(-0.1, 0.3).mul_((512 / fc.in_features) ** 0.5)
    return net.eval()


def _emulate(net, x):
    from exporters.interop import model_run
    from exporters.lava_export import lava_plan
    from exporters.lava_graph import emulate_plan

    plan = lava_plan(net)
    ref = model_run(net, x)
    return emulate_plan(plan, {k: ref.spikes[k].numpy() for k in plan.encoder})


@pytest.mark.parametrize(("space", "genotype"), NETS)
def test_fake_quantised_forward_is_the_lava_emulation_spike_for_spike(space, genotype) -> None:
    net = _net(space, genotype)
    x = torch.randn(3, 1, 32, 32) * 2
    q = QuantizedNet(net)
    q.keep_spikes = True
    with torch.no_grad():
        rates = q(x)
    spikes, votes = _emulate(net, x)
    assert spikes, "the emulation ran no population"
    total = 0.0
    for name, s in spikes.items():
        mine = q.spikes[name].reshape(s.shape).numpy()
        assert np.array_equal(mine, s), f"{name}: {(mine != s).sum()} of {s.size} spikes differ"
        total += float(s.sum())
    # the comparison covers real activity, the read-out included, not silent layers
    assert total > 50 and float(spikes["head.lifs.0"].sum()) > 0
    # the same votes (float32 sums of the same spikes, summed in another order)
    np.testing.assert_allclose(rates.numpy(), votes.mean(0), atol=1e-6)


def test_float_forward_differs_from_the_quantised_one_on_some_net() -> None:
    """Guards the test above against comparing the float network with itself."""
    diffs = 0
    for space, genotype in NETS[:2]:
        net = _net(space, genotype)
        x = torch.randn(4, 1, 32, 32) * 2
        q = QuantizedNet(net)
        q.keep_spikes = True
        with torch.no_grad():
            q(x)
            net.record_activity(False)
            from exporters.interop import model_run

            ref = model_run(net, x)
        for name, s in q.spikes.items():
            if name in ref.spikes:
                diffs += int((ref.spikes[name].reshape(s.shape) != s).sum())
    assert diffs > 0


def test_fixed_point_hand_computed() -> None:
    # peak |gain W| = 0.5 -> vth = floor(1 * 254 / 0.5) = 508 = scale; weights W * 0.5 * 508 / 2
    # = 63.5 -> 64 (half to even) -> 128, and -127 -> -254; bias 0.01 * 0.5 * 508 * 64 = 162.56
    fp = quantise_population([torch.tensor([[1.0, -2.0]]) / 2], [torch.tensor([0.01])],
                             0.5, 1.0, 0.5, 1)
    assert fp.vth == 508 and fp.scale == 508.0
    assert fp.weights[0].tolist() == [[128.0, -254.0]]
    assert fp.bias_exp == 0 and fp.bias_mant.tolist() == [163.0]
    assert fp.dv == 2048
    # a large bias takes an exponent: 20 * 1 * 254 * 64 = 325,120 -> / 2^7 = 2540
    fp = quantise_population([torch.tensor([[1.0]])], [torch.tensor([20.0])], 1.0, 1.0, 0.0, 1)
    assert fp.vth == 254 and fp.bias_exp == 7 and fp.bias_mant.tolist() == [2540.0]
    assert fp.bias_int.tolist() == [2540.0 * 128]
    assert fp.dv == 0
    # exponents stop at 7: a bias of 40 thresholds saturates at mantissa 4095
    fp = quantise_population([torch.tensor([[1.0]])], [torch.tensor([40.0])], 1.0, 1.0, 0.0, 1)
    assert fp.bias_exp == 7 and fp.bias_mant.tolist() == [4095.0]


def test_fixed_decay_truncates_towards_zero() -> None:
    v = torch.tensor([-7.0, 7.0, 100.0, 0.0], dtype=torch.float64)
    assert fixed_decay(v, 2048).tolist() == [-3.0, 3.0, 50.0, 0.0]
    assert fixed_decay(v, 4096).tolist() == [0.0, 0.0, 0.0, 0.0]
    assert fixed_decay(v, 0).tolist() == v.tolist()


def test_round_is_straight_through() -> None:
    x = torch.tensor([0.4, 1.5, 2.5, -0.6], requires_grad=True)
    y = round_ste(x)
    assert y.tolist() == [0.0, 2.0, 2.0, -1.0]
    (y * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert x.grad is not None and x.grad.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_lava_dt_is_the_exporters() -> None:
    from exporters.nir_export import DEFAULT_DT

    assert LAVA_DT == DEFAULT_DT


def test_gradients_reach_every_parameter_and_follow_the_float_ones() -> None:
    """STE: every parameter of the network gets a gradient through the integer forward, and
    its direction agrees with the float network's (same weights, eval-mode BN in both)."""
    net = _net("snn1", "SRB_k3,SRB_k3,SCB_k3,SRB_k3,skip")
    x = torch.randn(8, 1, 32, 32) * 2
    y = torch.arange(8) % 3
    target = nn.functional.one_hot(y, 3).float()

    def grads(model) -> torch.Tensor:
        net.zero_grad()
        nn.functional.mse_loss(model(x), target).backward()
        return torch.cat([p.grad.flatten() for p in net.parameters()])

    gq = grads(QuantizedNet(net))
    assert torch.isfinite(gq).all()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert not missing, f"no gradient for {missing}"
    gf = grads(net)
    cos = float(torch.nn.functional.cosine_similarity(gq, gf, dim=0))
    assert cos > 0.5, cos


def test_training_mode_updates_bn_statistics_as_batchnorm_does() -> None:
    base = _net("snn1", "SCB_k3,skip,SCB_k3,SCB_k3,skip")
    twin = _net("snn1", "SCB_k3,skip,SCB_k3,SCB_k3,skip")
    x = torch.randn(4, 1, 32, 32) * 2
    base.train()
    twin.train()
    with torch.no_grad():
        base(x)  # float BN in training mode
        QuantizedNet(twin)(x)
    # the first on-chip conv sees the (float, identical) stem spikes in both
    a = base.body[0].ops["SCB_k3"].conv1.bn
    b = twin.body[0].ops["SCB_k3"].conv1.bn
    assert int(b.num_batches_tracked) == 1
    assert torch.allclose(a.running_mean, b.running_mean, atol=1e-6)
    assert torch.allclose(a.running_var, b.running_var, rtol=1e-5)
    # eval mode leaves them alone
    twin.eval()
    before = b.running_var.clone()
    with torch.no_grad():
        QuantizedNet(twin)(x)
    assert torch.equal(before, b.running_var)


def test_neurons_without_loihi_quantisation_are_refused_in_one_line() -> None:
    net = autosnn.build("snn1", "SCB_k3,skip,SCB_k3,SCB_k3,skip", channels=4, num_classes=3,
                        input_shape=(1, 32, 32), timesteps=2, neuron="relu")
    with pytest.raises(QuantizeError, match=r"layer 'stem.lif': ReLUNeuron") as e:
        QuantizedNet(net)
    assert "\n" not in str(e.value)


def test_unknown_target_is_one_line() -> None:
    net = _net("snn1", "SCB_k3,skip,SCB_k3,SCB_k3,skip")
    with pytest.raises(AutosnnError, match=r"^--quantize 'loihi9': expected one of loihi2, speck$"):
        quantized(net, "loihi9")


def _split(n: int = 12) -> TensorSplit:
    info = DatasetInfo(name="t", title="t", input_shape=(1, 32, 32), num_classes=3,
                       is_event=False, timesteps=2, synthetic=True, mean=(0.5,), std=(0.25,),
                       flip_ok=False)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 1, 32, 32), generator=g, dtype=torch.uint8)
    return TensorSplit(x, torch.arange(n, dtype=torch.int64) % 3, info)


def test_fit_runs_the_last_epochs_quantised(tmp_path, monkeypatch) -> None:
    made = []

    def spy(net, name):
        made.append(name)
        return QuantizedNet(net)

    monkeypatch.setattr(fit_mod, "quantized", spy)
    net = _net("snn1", "SCB_k3,skip,SCB_k3,SCB_k3,skip").train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    cfg = TrainConfig(epochs=2, batch_size=6, crop_pad=0, flip=False, quantize="loihi2",
                      quantize_epochs=1)
    hist = fit_mod.fit(net, _split(), cfg, state_path=tmp_path / "s.pt", resume=False)
    assert made == ["loihi2"] and len(hist) == 2
    changed = [k for k, v in net.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("head.fcs") for k in changed)
    # without QAT the resume fingerprint is what it was before QAT existed
    plain = fit_mod._fingerprint(TrainConfig(epochs=2), {})
    assert "quantize" not in plain
    assert "loihi2" in fit_mod._fingerprint(cfg, {})


@pytest.mark.parametrize(("cfg", "match"), [
    (dict(quantize="tpu"), r"^--quantize 'tpu': expected one of loihi2, speck$"),
])
def test_fit_refuses_an_unknown_target_before_training(tmp_path, cfg, match) -> None:
    net = _net("snn1", "SCB_k3,skip,SCB_k3,SCB_k3,skip")
    with pytest.raises(AutosnnError, match=match):
        fit_mod.fit(net, _split(), TrainConfig(epochs=1, **cfg), state_path=tmp_path / "s.pt",
                    resume=False)
    assert not (tmp_path / "s.pt").exists()


def test_quantize_epochs_must_be_positive() -> None:
    with pytest.raises(AutosnnError, match=r"^--quantize-epochs must be >= 1, got 0$"):
        TrainConfig(quantize="loihi2", quantize_epochs=0)


def test_supernet_training_is_refused(tmp_path) -> None:
    net = _net("snn1", "SCB_k3,skip,SCB_k3,SCB_k3,skip")
    with pytest.raises(AutosnnError, match="fixed network"):
        fit_mod.fit(net, _split(), TrainConfig(epochs=1, quantize="loihi2"),
                    state_path=tmp_path / "s.pt", resume=False,
                    sample_path_factory=lambda e: (lambda: None))


@pytest.mark.parametrize(("args", "match"), [
    (["--quantize", "foo"], "error: --quantize 'foo': expected one of loihi2"),
    (["--quantize", "loihi2", "--quantize-epochs", "0"], "--quantize-epochs"),
    (["--quantize-epochs", "1"], "--quantize-epochs needs --quantize"),
])
def test_cli_quantize_options_are_one_line_exit_2(tmp_path, args, match) -> None:
    from typer.testing import CliRunner

    from autosnn.app.cli import app

    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["train", "--genotype", "SCB_k3,skip,SCB_k3,SCB_k3,skip",
                                   "--out", str(out), *args])
    text = res.output.strip()
    assert res.exit_code == 2, text
    assert match in text and len(text.splitlines()) == 1, text
    assert not out.exists()


def test_train_with_quantize_reports_the_integer_forwards_test_accuracy(tmp_path) -> None:
    """train.json's test_accuracy is the float forward's; the network a chip runs is the
    integer one, so its accuracy is recorded beside it (recomputed here from model.pt)."""
    import json

    from typer.testing import CliRunner

    import autosnn
    from autosnn.app.cli import app
    from autosnn.data import batches
    from autosnn.data.spec import DataSpec, load_data
    from autosnn.train.quantize import quantized

    out = tmp_path / "run"
    res = CliRunner().invoke(app, [
        "train", "--genotype", "SCB_k3,skip,SCB_k3,SCB_k3,skip", "--quantize", "loihi2",
        "--dataset", "synthetic", "--limit", "40", "--preset", "quick", "--seed", "0",
        "--epochs", "1", "--batch-size", "16", "--channels", "4", "--timesteps", "2", "-q",
        "--out", str(out)])
    assert res.exit_code == 0, res.output + repr(res.exception)
    doc = json.loads((out / "train.json").read_text())
    test = load_data(DataSpec.from_dict(doc["data"])).test
    net = autosnn.load(out / "model.pt").eval()
    q = quantized(net, "loihi2")
    with torch.inference_mode():
        hits = sum(int((q(x).argmax(1) == y).sum())
                   for x, y in batches(test, 16, shuffle=False, augment=None))
    assert doc["test_accuracy_quantized"] == pytest.approx(hits / len(test))
    assert 0.0 <= doc["test_accuracy"] <= 1.0 and doc["test_samples"] == len(test)


def test_quantized_accuracy_scores_the_integer_forward_not_the_float_one(monkeypatch) -> None:
    import autosnn
    import autosnn.train.quantize as qmod
    from autosnn.data import TensorSplit

    class VotesZero(torch.nn.Module):  # an "integer forward" that always answers class 0
        def forward(self, x):  # type: ignore[no-untyped-def]
            out = torch.zeros(x.shape[-4] if x.dim() == 5 else x.shape[0], 10)
            out[:, 0] = 1.0
            return out

    monkeypatch.setattr(qmod, "quantized", lambda net, name: VotesZero())
    net = autosnn.build("snn1", "SCB_k3,skip,SCB_k3,SCB_k3,skip", 4, 10, (1, 32, 32), 2)
    labels = torch.tensor([0, 1, 0, 2, 0, 3, 4, 5])
    split = TensorSplit(torch.zeros(8, 1, 32, 32, dtype=torch.uint8), labels)
    assert qmod.quantized_accuracy(net, "loihi2", split, 3) == pytest.approx(3 / 8)
