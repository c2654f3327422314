"""One lowering: a block registered with its lowering (and nothing else) exports to NIR, ONNX
and Lava; every registered block lowers; a block without a lowering is refused by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor, nn

import autosnn
from autosnn.core.blocks import BLOCKS, ConvBN, list_blocks
from autosnn.core.lowering import (
    Lowerer,
    Signal,
    lower_convbn,
    register_lowering,
    unregister_lowering,
)
from autosnn.core.neuron import make_neuron
from exporters import ExportError, get_exporter
from exporters.lava_compat import lava_available
from exporters.lava_graph import plan_from_nir
from exporters.nir_export import read_nir, to_nir
from exporters.onnx_export import run_onnx
from exporters.verify import compare_nir, random_input, randomise

T, C, K = 4, 4, 3


class ToyBlock(nn.Module):
    """Two paths into one neuron: ``lif2(conv2(lif1(conv1(x))) + side(x))``, ``side`` a 3x3
    ConvBN (unlike SRB's identity / 1x1), so the sum's sources sit at different depths."""

    def __init__(self, cin: int, cout: int, stride: int, neuron: str) -> None:
        super().__init__()
        self.conv1 = ConvBN(cin, cout, 3, stride)
        self.lif1 = make_neuron(neuron)
        self.conv2 = ConvBN(cout, cout, 3)
        self.side = ConvBN(cin, cout, 3, stride)
        self.lif2 = make_neuron(neuron)

    def forward(self, x: Tensor) -> Tensor:
        return self.lif2(self.conv2(self.lif1(self.conv1(x))) + self.side(x))


def _lower_toy(b: Lowerer, name: str, m: ToyBlock, x: Signal) -> Signal:
    h = b.neuron(f"{name}.lif1", [lower_convbn(b, f"{name}.conv1", x, m.conv1)], m.lif1)
    main = lower_convbn(b, f"{name}.conv2", h, m.conv2)
    side = lower_convbn(b, f"{name}.side", x, m.side)
    return b.neuron(f"{name}.lif2", [main, side], m.lif2)


GENOTYPE = "toy,SCB_k3,toy,SCB_k3,skip"


@pytest.fixture
def toy_block():
    BLOCKS.add("toy", ToyBlock)
    register_lowering(ToyBlock)(_lower_toy)
    yield
    BLOCKS.remove("toy")
    unregister_lowering(ToyBlock)


def _toy_net() -> autosnn.SpikingNet:
    torch.manual_seed(0)
    net = autosnn.build("snn1", GENOTYPE, channels=C, num_classes=K, timesteps=T)
    return randomise(net, seed=3)


def test_toy_block_exports_to_nir_onnx_and_lava_without_touching_exporters(
    toy_block, tmp_path, one_thread
):
    net = _toy_net()
    x = random_input(net, 3, seed=1)

    # NIR: spike for spike in our executor, node names are the module names
    nir_path = get_exporter("nir").export(net, tmp_path / "toy.nir")
    graph = read_nir(nir_path)
    assert {"body.0.ops.toy.lif1", "body.0.ops.toy.lif2", "body.0.ops.toy.side"} <= set(graph.nodes)
    into = sorted(s for s, d in graph.edges if d == "body.0.ops.toy.lif2")
    assert into == ["body.0.ops.toy.conv2", "body.0.ops.toy.side"]
    check = compare_nir(net, x)
    assert check.mean_rate > 0.01  # the network spikes: the comparison is not vacuous
    assert check.mismatch_rate == 0 or check.near_ties_only

    # ONNX: the step graph from the same lowering gives the model's firing rates
    onnx_path = get_exporter("onnx").export(net, tmp_path / "toy.onnx")
    with torch.no_grad():
        want = net(x).numpy()
    got, _ = run_onnx(onnx_path, x)
    np.testing.assert_allclose(got, want, atol=1e-5)

    # Lava: the fan-in becomes two synapses into one population, depths balanced by a relay
    plan = plan_from_nir(to_nir(net, compat="portable"))
    lif2 = plan.neurons["body.0.ops.toy.lif2"]
    assert len(lif2.synapses) == 2
    src_depths = {plan.neurons[s.src].depth if s.src in plan.neurons else 0
                  for s in lif2.synapses}
    assert src_depths == {lif2.depth - 1}
    lava_path = get_exporter("lava").export(net, tmp_path / "toy.h5")
    assert lava_path.is_file()
    if lava_available():
        from exporters.lava_run import compare_lava

        rep = compare_lava(net, x, lava_path)  # 8-bit fixed point: close, not spike-exact
        assert set(rep["layers"]) == {n for n, _ in net.active_spiking_layers()} - {"stem.lif"}
        for name, r in rep["layers"].items():
            if r["count_torch"] >= 100:  # a dozen spikes make a noisy cosine
                assert r["cosine"] > 0.95, name
        assert rep["layers"]["body.0.ops.toy.lif2"]["mismatch"] < 0.01


def test_block_without_lowering_is_refused_naming_the_layer(tmp_path):
    BLOCKS.add("toy", ToyBlock)
    try:
        net = _toy_net()
        with pytest.raises(ExportError, match=r"body\.0\.ops\.toy.*no lowering.*ToyBlock"):
            get_exporter("nir").export(net, tmp_path / "x.nir")
        assert not (tmp_path / "x.nir").exists()
    finally:
        BLOCKS.remove("toy")


@pytest.mark.parametrize("block", list_blocks())
def test_every_registered_block_lowers_and_matches_pytorch(block, one_thread):
    torch.manual_seed(0)
    geno = ",".join([block, "SCB_k3", block, "SCB_k3", "skip"])
    net = randomise(autosnn.build("snn1", geno, channels=C, num_classes=K, timesteps=T), seed=2)
    check = compare_nir(net, random_input(net, 2, seed=5))
    assert check.mismatch_rate == 0 or check.near_ties_only, block


def test_toy_block_goes_through_build_summary_search_and_export(toy_block, tmp_path, one_thread):
    # One registration (+ its lowering) is all a new candidate block needs: the super-network
    # holds it, the search samples and evaluates it, summary describes it, NIR exports it.
    import random

    from autosnn.core.summary import summarize
    from autosnn.search.outputs import extract_winner
    from autosnn.search.shared_eval import SharedPrefixEvaluator

    sup = autosnn.build_supernet("snn1", C, K, (3, 32, 32), T, candidates=("toy", "skip")).eval()
    space = sup.search_space()
    assert space.candidates == ("toy", "skip") and space.size == 2 ** 5
    rng = random.Random(0)
    genos = sorted({space.sample(rng) for _ in range(8)})
    assert any("toy" in g for g in genos)
    x = random_input(sup, 4, seed=0)
    evals = SharedPrefixEvaluator(sup, [(x, torch.zeros(4, dtype=torch.long))])(genos)
    assert all(e.activity for e in evals)
    g = next(g for g in genos if "toy" in g)
    net = extract_winner(sup, g)
    rows = {layer.name for layer in summarize(net).layers}
    toy_slot = g.index("toy")
    assert any(".ops.toy." in r for r in rows), rows
    graph = read_nir(get_exporter("nir").export(net, tmp_path / "w.nir"))
    assert any("ops.toy.lif2" in n for n in graph.nodes) and toy_slot >= 0
