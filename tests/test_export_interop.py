"""The same ``.nir`` file run in norse and spikingjelly agrees with the PyTorch model.

Agreement by the NIR paper's metric (cosine similarity of time-averaged spike activity per layer)
and by output class. Figures are printed (``pytest -s``) for docs/exporters.md.
"""

from __future__ import annotations

import random

import pytest
import torch

import autosnn
from exporters.interop import agreement, model_run, run_norse, run_spikingjelly
from exporters.nir_export import export_nir
from exporters.verify import random_input, randomise

T, N = 4, 3


def _net(kind: str) -> autosnn.SpikingNet:
    torch.manual_seed(0)
    if kind in autosnn.list_spaces():
        geno = autosnn.get_space(kind).sample(random.Random(7))
        net = autosnn.build(kind, geno, channels=4, num_classes=3, timesteps=T)
    else:
        net = autosnn.build_model(kind, channels=4, num_classes=3, timesteps=T)
    return randomise(net, seed=4)


def _report(label, a):
    print(f"\n{label}: min cosine {a.min_cosine:.6f}, mean {a.mean_cosine:.6f}, "
          f"class agreement {a.class_agreement:.2f}, spike mismatch {a.spike_mismatch_rate:.2e}")


@pytest.mark.parametrize("kind", ["snn1", "snn3", "resnet19-zheng"])
def test_spikingjelly_import_agrees_per_layer_and_by_class(kind, tmp_path):
    net = _net(kind)
    x = random_input(net, N, seed=2)
    path = export_nir(net, tmp_path / "net.nir", compat="spikingjelly")
    a = agreement(model_run(net, x), run_spikingjelly(path, x, T))
    _report(f"spikingjelly {kind}", a)
    assert len(a.cosine) == len(net.active_spiking_layers())
    assert a.min_cosine > 0.99
    assert a.class_agreement == 1.0


@pytest.mark.parametrize("kind", ["snn3", "resnet19-zheng"])
def test_norse_agrees_when_wired_in_topological_order(kind, tmp_path):
    net = _net(kind)
    x = random_input(net, N, seed=2)
    path = export_nir(net, tmp_path / "net.nir", compat="norse")
    a = agreement(model_run(net, x), run_norse(path, x, T, loader="nir_to_torch"))
    _report(f"norse (nir_to_torch) {kind}", a)
    assert len(a.cosine) == len(net.active_spiking_layers())
    assert a.min_cosine > 0.99
    assert a.class_agreement == 1.0


def test_norse_from_nir_exact_without_parallel_conv_branches(tmp_path):
    """Identity shortcuts only (no conv shortcut): norse.torch.from_nir runs the graph right."""
    torch.manual_seed(0)
    net = randomise(autosnn.build("snn1", "SRB_k3,SCB_k3,SCB_k3,SCB_k5,SRB_k5", channels=4,
                                  num_classes=3, timesteps=T), seed=4)
    x = random_input(net, N, seed=2)
    path = export_nir(net, tmp_path / "net.nir", compat="norse")
    a = agreement(model_run(net, x), run_norse(path, x, T, loader="from_nir"))
    _report("norse from_nir (identity shortcuts)", a)
    assert a.min_cosine > 0.99 and a.class_agreement == 1.0


def test_norse_from_nir_misorders_a_conv_shortcut(tmp_path):
    """Documented consumer bug: nirtorch's deprecated GraphExecutor (used by norse.from_nir) runs
    nodes depth-first, so an SRB with a conv shortcut reads the shortcut of the previous step."""
    torch.manual_seed(0)
    net = randomise(autosnn.build("snn1", "SCB_k3,SRB_k3,SCB_k3,SCB_k5,SRB_k5", channels=4,
                                  num_classes=3, timesteps=T), seed=4)
    x = random_input(net, N, seed=2)
    path = export_nir(net, tmp_path / "net.nir", compat="norse")
    ref = model_run(net, x)
    bad = agreement(ref, run_norse(path, x, T, loader="from_nir"))
    good = agreement(ref, run_norse(path, x, T, loader="nir_to_torch"))
    _report("norse from_nir (conv shortcut)", bad)
    layer = "body.2.ops.SRB_k3.lif2"  # C -> 2C: conv shortcut
    assert good.cosine[layer] > 0.99
    assert bad.cosine[layer] < good.cosine[layer]


@pytest.mark.parametrize(
    "space,genotype",
    [
        ("snn1", "SRB_k3,SCB_k3,SCB_k3,SCB_k5,SRB_k5"),  # max-pool, identity shortcuts
        ("snn3", "SRB_k3,skip,SRB_k3,SCB_k3,skip,SRB_k5,SIB_k3_e3,skip"),  # reduce, depthwise
        ("snn4", "SCB_k3,SCB_k3,SRB_k3,SCB_k3,SRB_k5"),  # avg-pool + PLIF
    ],
)
def test_one_portable_file_runs_in_norse_from_nir_and_spikingjelly(space, genotype, tmp_path):
    torch.manual_seed(0)
    net = randomise(autosnn.build(space, genotype, channels=4, num_classes=3, timesteps=T), 4)
    x = random_input(net, N, seed=2)
    path = export_nir(net, tmp_path / "net.nir", compat="portable")
    ref = model_run(net, x)
    for label, run in [
        ("norse from_nir", lambda: run_norse(path, x, T, loader="from_nir")),
        ("spikingjelly", lambda: run_spikingjelly(path, x, T)),
    ]:
        a = agreement(ref, run())
        _report(f"{label} portable {space}", a)
        assert len(a.cosine) == len(net.active_spiking_layers())
        assert a.min_cosine > 0.99 and a.class_agreement == 1.0
