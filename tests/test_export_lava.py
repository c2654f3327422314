"""Lava netx HDF5 export: file contents (h5py only) and, with the ``loihi`` extra, a Lava run.

The Lava run trains a small chain network on a synthetic 3-class task for a few steps, exports it,
runs it with ``Loihi2SimCfg(select_tag="fixed_pt")`` and compares class decisions and per-layer
spike counts with the PyTorch model. Skipped when lava-nc / lava-dl are not installed.
"""

from __future__ import annotations

import math

import h5py
import numpy as np
import pytest
import torch

import autosnn
from exporters import ExportError, get_exporter
from exporters.lava_compat import lava_available
from exporters.lava_export import lava_layers
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
            assert 0 < int(n["vDecay"][()]) <= 4096 and int(n["vThMant"][()]) > 0
        # first conv: vDecay = k * 4096 for the block's first PLIF
        k = 1 / (1 + math.exp(-float(net.body[0].ops["SCB_k3"].lif1.w.detach())))
        assert int(layers["1"]["neuron"]["vDecay"][()]) == round(k * 4096)


def test_maxpool_is_a_memoryless_any_spike_conv():
    _, layers = lava_layers(_chain_net())
    pool = next(layer for layer in layers if layer.name == "body.1")
    assert pool.k is None and pool.stride == 2
    assert pool.weight.shape == (C, C, 2, 2)
    assert np.array_equal(pool.weight[0, 0], np.ones((2, 2)))
    assert pool.weight[0, 1].sum() == 0


def test_residual_block_is_refused_naming_the_layer(tmp_path):
    net = autosnn.build("snn1", "SCB_k3,SRB_k3,SCB_k3,SCB_k3,skip", channels=C, num_classes=K,
                        timesteps=T)
    with pytest.raises(ExportError, match=r"body\.2\.ops\.SRB_k3.*residual"):
        get_exporter("lava").export(net, tmp_path / "x.h5")
    assert not (tmp_path / "x.h5").exists()


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
