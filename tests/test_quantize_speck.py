"""``--quantize speck``: our discretised forward (SpeckDiscretised / SpeckQuantizedNet) is sinabs's
discretised Speck network spike for spike, its gradients reach the float parameters, and the CLI
refuses the target for networks outside the speck space in one line."""

from __future__ import annotations

import copy

import pytest
import torch

import autosnn
from autosnn.core.speck import IF
from autosnn.core.speck_quant import SpeckDiscretised, SpeckQuantError, discretisation_scale
from autosnn.train.quantize_speck import SpeckQuantizedNet
from exporters.speck_compat import sinabs_available
from tests.helpers import fit_halves, halves_data

needs_sinabs = pytest.mark.skipif(
    not sinabs_available(), reason="sinabs not installed (pip install 'autosnn[speck]')")


def _trained(genotype: str, neuron: str = "if") -> autosnn.SpikingNet:
    """C = 4, T = 3, 12 Adam steps on the synthetic task, then BN shifts that make the folded
    biases large against the weights (the case that costs the float model accuracy on Speck)."""
    torch.manual_seed(0)
    net = autosnn.build("speck", genotype, channels=4, num_classes=2, input_shape=(1, 32, 32),
                        timesteps=3, neuron=neuron)
    fit_halves(net, steps=12)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.bias.add_(torch.rand(m.num_features) * 1.5)
    return net.eval()


@needs_sinabs
@pytest.mark.parametrize(("genotype", "neuron"), [
    ("speck_SRB_k3,speck_SCB_k3,speck_skip", "if"),        # merge residual, zero reset
    ("speck_skip,speck_SRB_k5,speck_SCB_k3", "if-subtract"),  # two pools in a row, subtract
])
def test_discretised_forward_is_sinabs_discretised_network_spike_for_spike(genotype,
                                                                           neuron) -> None:
    from exporters.speck_export import run_dynapcnn, speck_network, to_dynapcnn

    net = _trained(genotype, neuron)
    x, _ = halves_data(48, 1)
    q = SpeckDiscretised(net).eval()
    q.keep_spikes = True
    with torch.no_grad():
        rates = q(x)
        float_rates = net(x)
    build = speck_network(net)
    dn = to_dynapcnn(build, discretize=True)
    theirs, layers = run_dynapcnn(dn, x, build.timesteps, build.num_classes)
    T = build.timesteps
    assert torch.equal(torch.round(rates * 10 * T), torch.round(theirs * 10 * T))
    compared = 0
    for idx, name in zip(sorted(dn.dynapcnn_layers), build.layer_names):
        ours = q.spikes[name].reshape(T, x.shape[0], *q.spikes[name].shape[1:])
        pool = dn.dynapcnn_layers[idx].pool[0]
        pool = int(pool[0]) if isinstance(pool, (list, tuple)) else int(pool)
        if pool > 1:  # sinabs reports a layer's output after its destination's sum-pool
            pooled = torch.nn.functional.avg_pool2d(ours.flatten(0, 1), pool) * pool * pool
            ours = pooled.reshape(T, x.shape[0], *pooled.shape[1:])
        assert torch.equal(ours, layers[idx].reshape(ours.shape)), name
        assert ours.sum() > 0, name  # not vacuous: the layer fires
        compared += 1
    assert compared == len(net.active_spiking_layers())
    # and the rounding matters here: the discretised network is not the float one
    assert not torch.equal(rates, float_rates)


@needs_sinabs
def test_discretisation_scale_is_sinabs_rule() -> None:
    from sinabs.backend.dynapcnn.discretize import determine_discretization_scale

    g = torch.Generator().manual_seed(0)
    cases = [torch.randn(5, 3, 3, 3, generator=g), -torch.rand(7, generator=g) * 3,
             torch.tensor([-1.0, 0.5]), torch.tensor([-0.5, 1.0]), torch.zeros(4)]
    for bits in (8, 16):
        for t in cases:
            assert float(discretisation_scale(t, bits)) == float(
                determine_discretization_scale(t, bits))


def test_weights_and_thresholds_the_forward_uses_are_8_and_16_bit_integers() -> None:
    from autosnn.core.lowering import fold_bn
    from autosnn.core.speck_quant import layer_scale

    net = _trained("speck_SCB_k3,speck_skip,speck_skip")
    cbn = net.stem.conv
    w, b = fold_bn(cbn.conv.weight, cbn.bn, cbn.conv.bias)
    s, thr, min_v = layer_scale(w, b)
    wi, bi = torch.round(w * s), torch.round(b * s)
    assert max(wi.abs().max(), bi.abs().max()) in (127, 128)  # one of them fills the range
    assert wi.abs().max() <= 128 and bi.abs().max() <= 128
    assert 0 < thr < 2**15 and min_v == -(2**15 - 1)


def test_gradients_reach_every_parameter_and_follow_the_float_network() -> None:
    net = _trained("speck_SRB_k3,speck_SCB_k3,speck_skip")
    x, y = halves_data(32, 2)
    target = torch.nn.functional.one_hot(y, 2).float()
    grads = []
    for forward in (lambda n: n, SpeckQuantizedNet):
        n = copy.deepcopy(net).eval()  # eval: both fold the same running statistics
        torch.nn.functional.mse_loss(forward(n)(x), target).backward()
        grads.append({k: p.grad for k, p in n.named_parameters() if p.grad is not None})
    float_g, q_g = grads
    active = {k for k, _ in net.named_parameters() if ".speck_skip." not in k
              and "speck_SCB_k5" not in k and "speck_SRB_k5" not in k}
    assert set(q_g) >= {k for k in active if k in float_g}
    flat_f = torch.cat([float_g[k].flatten() for k in sorted(q_g)])
    flat_q = torch.cat([q_g[k].flatten() for k in sorted(q_g)])
    assert flat_q.abs().sum() > 0
    assert torch.nn.functional.cosine_similarity(flat_f, flat_q, dim=0) > 0.5


def test_training_mode_updates_bn_statistics_as_batchnorm_does() -> None:
    net = _trained("speck_SCB_k3,speck_skip,speck_skip")
    x, _ = halves_data(16, 3)
    a, b = copy.deepcopy(net).train(), copy.deepcopy(net).train()
    a(x)
    SpeckQuantizedNet(b)(x)
    bn_a, bn_b = a.stem.conv.bn, b.stem.conv.bn
    assert not torch.equal(bn_a.running_mean, net.stem.conv.bn.running_mean)
    assert torch.allclose(bn_a.running_mean, bn_b.running_mean, atol=1e-6)
    assert torch.allclose(bn_a.running_var, bn_b.running_var, atol=1e-5)


def test_networks_outside_the_speck_space_are_refused() -> None:
    net = autosnn.build("snn1", "SCB_k3,skip,SCB_k3,SCB_k3,skip", channels=4, timesteps=2)
    with pytest.raises(SpeckQuantError, match="speck space"):
        SpeckDiscretised(net)
    relu = autosnn.build("speck", "speck_SCB_k3,speck_skip,speck_skip", channels=4,
                         timesteps=2, neuron="relu")
    assert not any(isinstance(m, IF) for m in relu.modules())
    with pytest.raises(SpeckQuantError):
        SpeckDiscretised(relu)


@pytest.mark.parametrize(("args", "match"), [
    (["--genotype", "SCB_k3,skip,SCB_k3,SCB_k3,skip", "--quantize", "speck"],
     "--quantize speck: needs a network of the speck space, got 'snn1'"),
    (["--space", "speck", "--genotype", "speck_SCB_k3,speck_skip,speck_skip",
      "--quantize", "loihi2"], "--quantize loihi2: a speck-space network has IF neurons"),
])
def test_cli_refuses_quantize_for_the_wrong_space_in_one_line(tmp_path, args, match) -> None:
    from typer.testing import CliRunner

    from autosnn.app.cli import app

    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["train", "--out", str(out), *args])
    text = res.output.strip()
    assert res.exit_code == 2, text
    assert match in text and len(text.splitlines()) == 1, text
    assert not out.exists()
