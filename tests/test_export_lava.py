"""Lava export: netx HDF5 for chains, the process graph for residual networks (file contents,
h5py only) and, with the ``loihi`` extra, Lava runs.

The Lava runs train a small network (a chain; a residual one) on a synthetic 3-class task for a
few steps, export it, run it with ``Loihi2SimCfg(select_tag="fixed_pt")`` and compare class
decisions and per-layer spikes with the PyTorch model. Skipped when lava-nc / lava-dl are not
installed.
"""

from __future__ import annotations

import math

import h5py
import numpy as np
import pytest
import torch

import autosnn
from exporters import get_exporter
from exporters.lava_compat import lava_available
from exporters.lava_export import GRAPH_FORMAT, lava_plan, read_lava_graph
from exporters.lava_graph import quantise_neuron
from exporters.verify import randomise

T, C, K = 4, 4, 3


def _chain_net(seed: int = 0) -> autosnn.SpikingNet:
    torch.manual_seed(seed)
    return autosnn.build("snn1", "SCB_k3,skip,SCB_k3,SCB_k3,skip", channels=C, num_classes=K,
                         timesteps=T)


def test_netx_file_is_a_chain_of_supported_layers_with_8bit_weights(tmp_path):
    net = randomise(_chain_net(), seed=1)
    path = get_exporter("lava").export(net, tmp_path / "net.h5")
    with h5py.File(path, "r") as f:
        layers = f["layer"]
        types = [layers[str(i)]["type"][()].decode() for i in range(len(layers))]
        assert types[0] == "input" and types[-2:] == ["flatten", "dense"]
        assert set(types[1:-2]) == {"conv"}
        assert tuple(layers["0"]["shape"][()]) == (C, 32, 32)  # CHW of the stem spikes
        for i in range(1, len(layers)):
            g = layers[str(i)]
            if "weight" not in g:
                continue
            w = g["weight"][()]
            assert w.min() >= -256 and w.max() <= 254 and np.all(w % 2 == 0)
            n = g["neuron"]
            assert n["type"][()].decode() == "CUBA" and int(n["iDecay"][()]) == 4096
            assert 0 <= int(n["vDecay"][()]) <= 4096 and int(n["vThMant"][()]) > 0
        # first conv: vDecay = k * 4096 for the block's first PLIF
        k = 1 / (1 + math.exp(-float(net.body[0].ops["SCB_k3"].lif1.w.detach())))
        assert int(layers["1"]["neuron"]["vDecay"][()]) == round(k * 4096)


def test_maxpool_is_a_memoryless_any_spike_conv():
    plan = lava_plan(_chain_net())
    pool = plan.neurons["body.1"]
    assert pool.decay == 0.0 and pool.gain == pytest.approx(1.0) and pool.threshold == 0.5
    (syn,) = pool.synapses
    assert syn.stride == 2 and syn.weight.shape == (C, C, 2, 2)
    assert np.array_equal(syn.weight[0, 0], np.ones((2, 2)))
    assert syn.weight[0, 1].sum() == 0


def test_residual_network_is_a_process_graph_with_fan_in_and_balanced_depths(tmp_path):
    net = randomise(autosnn.build("snn1", "SCB_k3,SRB_k3,SCB_k3,SRB_k3,skip", channels=C,
                                  num_classes=K, timesteps=T), seed=1)
    path = get_exporter("lava").export(net, tmp_path / "x.h5")
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == GRAPH_FORMAT
    plan = read_lava_graph(path)
    depth = {n: 0 for n in plan.encoder} | {n: p.depth for n, p in plan.neurons.items()}
    for n in plan.neurons.values():
        assert {depth[s.src] for s in n.synapses} == {n.depth - 1}, n.name  # aligned in time
    lif2 = plan.neurons["body.2.ops.SRB_k3.lif2"]  # C -> 2C: conv2 + 1x1 shortcut conv
    assert sorted(s.name for s in lif2.synapses) == ["body.2.ops.SRB_k3.conv2",
                                                     "body.2.ops.SRB_k3.shortcut"]
    ident = plan.neurons["body.5.ops.SRB_k3.lif2"]  # identity shortcut through a relay
    assert any(plan.neurons[s.src].relay for s in ident.synapses if s.src in plan.neurons)
    for n in plan.neurons.values():
        q = quantise_neuron(n)
        assert all(w.min() >= -256 and w.max() <= 254 and np.all(w % 2 == 0)
                   for w in q["weights"])


def test_chain_network_is_netx():
    assert lava_plan(randomise(_chain_net(), seed=1)).is_chain


def _data(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """3 classes: a bright horizontal band in channel c at rows 4 + 8c .. 12 + 8c, plus noise."""
    y = torch.randint(0, K, (n,), generator=g)
    x = torch.rand(n, 3, 32, 32, generator=g) * 0.3
    for i in range(n):
        c = int(y[i])
        x[i, c, 4 + 8 * c : 12 + 8 * c, 4:28] += 1.0
    return x, y


@pytest.mark.skipif(not lava_available(), reason="lava-nc / lava-dl not installed (make loihi)")
def test_lava_fixed_point_run_agrees_with_pytorch_on_a_trained_network(tmp_path):
    from exporters.lava_run import compare_lava

    net = _chain_net(seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=2e-2)
    g = torch.Generator().manual_seed(1)
    for _ in range(40):
        x, y = _data(16, g)
        net.train()
        loss = torch.nn.functional.mse_loss(net(x), torch.nn.functional.one_hot(y, K).float())
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    x, y = _data(20, torch.Generator().manual_seed(9))
    with torch.no_grad():
        acc = float((net(x).argmax(1) == y).float().mean())
    assert acc >= 0.9, f"training failed (accuracy {acc}); the comparison needs a trained net"
    path = get_exporter("lava").export(net, tmp_path / "net.h5")
    report = compare_lava(net, x, path)
    print(f"\nLava vs PyTorch: class agreement {report['class_agreement']:.2f}")
    for name, r in report["layers"].items():
        print(f"  {name}: spikes torch {r['count_torch']:.0f} lava {r['count_lava']:.0f} "
              f"cosine {r['cosine']:.4f} mismatch {r['mismatch']:.2e}")
    assert report["class_agreement"] >= 0.95
    for name, r in report["layers"].items():
        assert r["cosine"] > 0.95, name
        assert abs(r["count_lava"] - r["count_torch"]) <= 0.1 * r["count_torch"] + 5, name


@pytest.mark.skipif(not lava_available(), reason="lava-nc / lava-dl not installed (make loihi)")
def test_lava_runs_a_trained_residual_network(tmp_path):
    from exporters.lava_run import compare_lava

    torch.manual_seed(0)
    net = autosnn.build("snn1", "SRB_k3,SRB_k3,SCB_k3,SRB_k3,skip", channels=C, num_classes=K,
                        timesteps=T)
    opt = torch.optim.Adam(net.parameters(), lr=2e-2)
    g = torch.Generator().manual_seed(1)
    for _ in range(40):
        x, y = _data(16, g)
        net.train()
        loss = torch.nn.functional.mse_loss(net(x), torch.nn.functional.one_hot(y, K).float())
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    x, y = _data(20, torch.Generator().manual_seed(9))
    with torch.no_grad():
        acc = float((net(x).argmax(1) == y).float().mean())
    assert acc >= 0.9, f"training failed (accuracy {acc}); the comparison needs a trained net"
    path = get_exporter("lava").export(net, tmp_path / "res.h5")
    report = compare_lava(net, x, path)
    print(f"\nLava (process graph) vs PyTorch: class agreement {report['class_agreement']:.2f}")
    for name, r in report["layers"].items():
        print(f"  {name}: cosine {r['cosine']:.4f} mismatch {r['mismatch']:.2e}")
    assert report["class_agreement"] >= 0.95
    for name, r in report["layers"].items():
        assert r["cosine"] > 0.95, name


def test_fixed_point_emulator_tracks_pytorch_without_lava():
    """The plan's integer arithmetic (emulate_plan, no Lava needed) stays close to PyTorch on a
    residual network: the quantisation, relays and fan-in are right before any Lava run."""
    from exporters.interop import model_run
    from exporters.lava_graph import emulate_plan
    from exporters.verify import random_input

    net = randomise(autosnn.build("snn1", "SRB_k3,SRB_k3,SCB_k3,SRB_k3,skip", channels=C,
                                  num_classes=K, timesteps=T), seed=1)
    x = random_input(net, 3, seed=2)
    ref = model_run(net, x)
    plan = lava_plan(net)
    spikes, _ = emulate_plan(plan, {k: ref.spikes[k].numpy() for k in plan.encoder})
    assert set(spikes) == {n for n, _ in net.active_spiking_layers()} - {"stem.lif"}
    first = spikes["body.0.ops.SRB_k3.lif1"]
    assert first.mean() > 0.02  # it spikes
    for name, s in spikes.items():
        a = ref.spikes[name].float().numpy().reshape(s.shape)
        assert (a != s).mean() < 0.05, name


@pytest.mark.skipif(not lava_available(), reason="lava-nc / lava-dl not installed (make loihi)")
def test_lava_matches_the_fixed_point_emulator_spike_for_spike(tmp_path):
    from exporters.interop import model_run
    from exporters.lava_graph import emulate_plan, run_plan
    from exporters.verify import random_input

    net = randomise(autosnn.build("snn1", "SRB_k3,skip,SCB_k3,SRB_k3,skip", channels=C,
                                  num_classes=K, timesteps=T), seed=3)
    x = random_input(net, 2, seed=4)
    ref = model_run(net, x)
    plan = read_lava_graph(get_exporter("lava").export(net, tmp_path / "n.h5"))
    enc = {k: ref.spikes[k].numpy() for k in plan.encoder}
    lava, votes_lava = run_plan(plan, enc)
    emu, votes_emu = emulate_plan(plan, enc)
    assert set(lava) == set(emu)
    for name in lava:
        np.testing.assert_array_equal(lava[name], emu[name], err_msg=name)
    np.testing.assert_array_equal(votes_lava, votes_emu)
