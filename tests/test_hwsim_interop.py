"""hwsim reads the NIR graphs other tools export (issue 20, "Any NIR graph").

The networks are built and exported by the other libraries themselves (snntorch, norse,
spikingjelly, sinabs), so a new release that changes what they write is caught here. Each is
costed on every built-in chip: feasible, or refused with a named rule, never a traceback.
Expected shapes and synaptic-op counts are worked out by hand in the comments.
"""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from hwsim import HwsimInputError, estimate, list_chips, network_from_nir
from hwsim.cli import app
from hwsim.network import Network
from hwsim.speck_memory import speck_kernel_words
from tests.test_hwsim_model import lif

runner = CliRunner()
RATE_STEPS = 0.1 * 8  # hwsim's stated assumption without activity: 0.1 spikes/neuron/step, T 8


def _cost_everywhere(net: Network) -> dict[str, bool]:
    """Every built-in chip: feasible, or infeasible with at least one named rule."""
    verdicts = {}
    for chip in list_chips():
        rec = estimate(net, None, chip)
        if not rec.feasible:
            assert rec.refusals and all(r.kind and r.message for r in rec.refusals), chip
        verdicts[chip] = rec.feasible
    return verdicts


def _shapes(net: Network) -> dict[str, tuple[int, ...]]:
    return {layer.name: layer.shape for layer in net.layers}


# -- snntorch: the NIR paper's N-MNIST CNN, Conv -> LIF -> AvgPool -> Conv ... --------------------
def _snntorch_graph(module: torch.nn.Module, sample: torch.Tensor) -> nir.NIRGraph:
    """snntorch's export. snntorch 1.0.0's `export_to_nir` ends with nir's `infer_types()`,
    which raises with nir 1.0.8 (batch dimension in Input, scalar neuron shapes); then the graph
    is taken just before that step, from snntorch's own module converter, as it writes it."""
    snn = pytest.importorskip("snntorch")
    from snntorch.export_nir import _extract_snntorch_module, export_to_nir

    try:
        return export_to_nir(module, sample)
    except (ValueError, IndexError):
        import nirtorch

        return nirtorch.extract_nir_graph(
            module, _extract_snntorch_module, sample, model_name="snntorch",
            ignore_submodules_of=[snn.RLeaky, snn.RSynaptic],
        )


def _nmnist_cnn_snntorch() -> nir.NIRGraph:
    snn = pytest.importorskip("snntorch")
    torch.manual_seed(0)

    def leaky(**kw: object) -> torch.nn.Module:
        return snn.Leaky(beta=0.9, init_hidden=True, **kw)

    net = torch.nn.Sequential(
        torch.nn.Conv2d(2, 16, 5, stride=2, padding=1, bias=False), leaky(),
        torch.nn.Conv2d(16, 16, 3, padding=1, bias=False), leaky(),
        torch.nn.AvgPool2d(2),
        torch.nn.Conv2d(16, 8, 3, padding=1, bias=False), leaky(),
        torch.nn.AvgPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(128, 256, bias=False), leaky(),
        torch.nn.Linear(256, 10, bias=False), leaky(output=True),
    )
    return _snntorch_graph(net, torch.randn(1, 2, 34, 34))


def test_snntorch_nmnist_cnn_reads_with_inferred_shapes_and_costs_on_every_chip() -> None:
    graph = _nmnist_cnn_snntorch()
    net = network_from_nir(graph)
    neurons = [la.shape for la in net.neuron_layers]
    # 34 + 2 - 5 = 31, //2 + 1 = 16; 3x3 pad 1 keeps 16; pool 2 -> 8; conv keeps 8; pool -> 4
    assert neurons == [(16, 16, 16), (16, 16, 16), (8, 8, 8), (256,), (10,)]
    assert [la.shape for la in net.layers if la.kind != "neuron"] == [(2, 34, 34), (10,)]
    pooled = [p for p in net.projections if p.pooled_chw is not None]
    # AvgPool 2 then conv 3x3 pad 1 = one conv 6x6 stride 2 pad 2; AvgPool then Linear = dense
    assert [(p.kind, p.kernel, p.stride, p.padding) for p in pooled] == [
        ("conv", (6, 6), (2, 2), (2, 2)), ("dense", (1, 1), (1, 1), (0, 0))]
    assert pooled[1].mask is not None and pooled[1].mask.shape == (256, 512)
    verdicts = _cost_everywhere(net)
    assert verdicts["loihi2"] and verdicts["loihi"] and verdicts["spinnaker2"]


def test_snntorch_recurrent_layer_is_one_line_naming_the_cycle() -> None:
    snn = pytest.importorskip("snntorch")
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 8), snn.RLeaky(beta=0.9, linear_features=8, init_hidden=True),
        torch.nn.Linear(8, 2), snn.Leaky(beta=0.9, init_hidden=True, output=True),
    )
    graph = _snntorch_graph(net, torch.randn(1, 4))
    with pytest.raises(HwsimInputError, match="acyclic graph") as err:
        network_from_nir(graph)
    assert "lif" in str(err.value) and "\n" not in str(err.value)


# -- norse: scalar-parameter neurons, no types, batch in Input/Output -----------------------------
def test_norse_conv_graph_with_lif_cuba_and_if_costs_on_every_chip() -> None:
    norse = pytest.importorskip("norse.torch")
    torch.manual_seed(0)
    net = norse.SequentialState(
        torch.nn.Conv2d(2, 8, 3, padding=1), norse.LIFBoxCell(),
        torch.nn.Conv2d(8, 8, 3, stride=2), norse.LIFCell(),   # exported as CubaLIF
        torch.nn.Conv2d(8, 4, 3, stride=2), norse.IAFCell(),   # exported as IF
    )
    graph = norse.to_nir(net, torch.randn(1, 2, 16, 16))
    kinds = sorted(type(n).__name__ for n in graph.nodes.values())
    assert kinds.count("CubaLIF") == 1 and kinds.count("IF") == 1 and kinds.count("LIF") == 1
    network = network_from_nir(graph)
    # 16 pad 1 -> 16; (16 - 3)//2 + 1 = 7; (7 - 3)//2 + 1 = 3
    assert [la.shape for la in network.neuron_layers] == [(8, 16, 16), (8, 7, 7), (4, 3, 3)]
    assert _shapes(network)["input"] == (2, 16, 16) and _shapes(network)["output"] == (4, 3, 3)
    # (Speck and TrueNorth have no leaky neurons: their verdict is the capability rules')
    assert all(_cost_everywhere(network)[c] for c in ("loihi", "loihi2", "spinnaker2"))
    assert [la.model for la in network.neuron_layers] == ["LIF", "CubaLIF", "IF"]


def test_norse_dense_graph_with_an_li_readout_counts_its_synapses() -> None:
    norse = pytest.importorskip("norse.torch")
    net = norse.SequentialState(
        torch.nn.Linear(20, 30), norse.LIFBoxCell(), torch.nn.Linear(30, 5), norse.LIBoxCell()
    )
    network = network_from_nir(norse.to_nir(net, torch.randn(1, 20)))
    assert [la.shape for la in network.neuron_layers] == [(30,), (5,)]
    rec = estimate(network, None, "loihi2")
    # every input reaches the 30 neurons, each of those the 5 LI neurons (random weights: no 0)
    assert rec.feasible and rec.synops == pytest.approx(RATE_STEPS * (20 * 30 + 30 * 5))
    _cost_everywhere(network)


def test_norse_flatten_it_cannot_export_is_one_line_naming_the_node() -> None:
    norse = pytest.importorskip("norse.torch")
    net = norse.SequentialState(
        torch.nn.Conv2d(2, 4, 3), norse.LIFBoxCell(), torch.nn.Flatten(),
        torch.nn.Linear(4 * 6 * 6, 3), norse.LIBoxCell(),
    )
    graph = norse.to_nir(net, torch.randn(1, 2, 8, 8))
    missing = [name for name, node in graph.nodes.items() if node is None]
    assert missing  # norse 1.1.0 writes None for torch.nn.Flatten; a fix would flip this
    with pytest.raises(HwsimInputError, match=f"{missing[0]}: a NIR node .got None"):
        network_from_nir(graph)


# -- spikingjelly: typed graphs, written to a file by spikingjelly itself --------------------------
def test_spikingjelly_file_with_a_pool_before_a_conv_runs_through_the_cli(tmp_path: Path) -> None:
    sj = pytest.importorskip("spikingjelly.activation_based")
    from spikingjelly.activation_based import functional, layer, neuron, nir_exchange

    assert sj is not None
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        layer.Conv2d(2, 8, 3, padding=1, bias=False), neuron.LIFNode(),
        layer.AvgPool2d(2), layer.Conv2d(8, 8, 3, padding=1, bias=False), neuron.IFNode(),
        layer.Flatten(), layer.Linear(8 * 8 * 8, 10, bias=False), neuron.ParametricLIFNode(),
    )
    functional.set_step_mode(net, "m")
    path = tmp_path / "sj.nir"
    nir_exchange.export_to_nir(net, torch.randn(4, 1, 2, 16, 16), str(path), dt=1e-4)
    network = network_from_nir(nir.read(str(path)))
    assert [la.shape for la in network.neuron_layers] == [(8, 16, 16), (8, 8, 8), (10,)]
    _cost_everywhere(network)
    result = runner.invoke(app, ["estimate", str(path), "--chip", "loihi2"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["compare", str(path), "--chips", "loihi,truenorth,speck",
                                 "--json"])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output


# -- sinabs: the NIR paper's N-MNIST CNN as the paper's authors exported it for Speck -------------
def _nmnist_cnn_sinabs() -> nir.NIRGraph:
    sl = pytest.importorskip("sinabs.layers")
    from sinabs.nir import to_nir

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(2, 16, 5, stride=2, padding=1, bias=False), sl.IAFSqueeze(batch_size=1),
        torch.nn.Conv2d(16, 16, 3, padding=1, bias=False), sl.IAFSqueeze(batch_size=1),
        sl.SumPool2d(kernel_size=(2, 2)),
        torch.nn.Conv2d(16, 8, 3, padding=1, bias=False), sl.IAFSqueeze(batch_size=1),
        sl.SumPool2d(kernel_size=(2, 2)), torch.nn.Flatten(),
        torch.nn.Linear(4 * 4 * 8, 256, bias=False), sl.IAFSqueeze(batch_size=1),
        torch.nn.Linear(256, 10, bias=False), sl.IAFSqueeze(batch_size=1),
    )
    return to_nir(net, torch.randn(1, 2, 34, 34))


def test_sinabs_nmnist_cnn_fits_speck_with_the_pool_in_the_source_core() -> None:
    network = network_from_nir(_nmnist_cnn_sinabs())
    words = {(p.src, p.dst): speck_kernel_words(p) for p in network.projections
             if p.pooled_chw is not None}
    # sinabs: Cin * 2^(ceil log2(kh kw) + ceil log2 Cout): conv 16->8 3x3 = 16 * 2^(4 + 3);
    # the 128->256 dense on the pooled 8x4x4 map = 8 * 2^(4 + 8) (not the 8x8 map before it)
    assert sorted(words.values()) == [2048, 32768]
    verdicts = _cost_everywhere(network)
    assert verdicts["speck"] and verdicts["loihi2"] and verdicts["spinnaker2"]
    # (sinabs 3.1.3's graph cannot be written with nir.write: its untyped nodes fail h5py)


# -- composition and normalisation, hand-counted ---------------------------------------------------
def _pool_graph(pool: nir.NIRNode, weight: nir.NIRNode, out: tuple[int, ...],
                flatten: bool = False) -> nir.NIRGraph:
    """input 1x6x6 -> LIF -> pool -> [Flatten] -> weight -> LIF(out), types left to hwsim."""
    nodes: dict[str, nir.NIRNode] = {
        "input": nir.Input(input_type={"input": np.array([1, 1, 6, 6])}),  # batch dim kept
        "a": lif((1, 6, 6)), "pool": pool, "w": weight, "b": lif(out),
        "output": nir.Output(output_type={"output": np.array([1, *out])}),
    }
    edges = [("input", "a"), ("a", "pool"), ("w", "b"), ("b", "output")]
    if flatten:
        nodes["flat"] = nir.Flatten(input_type={"input": None}, start_dim=0)
        edges += [("pool", "flat"), ("flat", "w")]
    else:
        edges.append(("pool", "w"))
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


@pytest.mark.parametrize("pool_type", [nir.SumPool2d, nir.AvgPool2d])
def test_a_pool_composed_into_a_conv_has_the_synaptic_events_of_pool_then_conv(pool_type) -> None:
    pool = pool_type(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                     padding=np.array([0, 0]))
    conv = nir.Conv2d(input_shape=None, weight=np.ones((1, 1, 3, 3)), stride=1, padding=1,
                      dilation=1, groups=1, bias=np.zeros(1))
    net = network_from_nir(_pool_graph(pool, conv, (1, 3, 3)))
    rec = estimate(net, None, "loihi2")
    # pooled 3x3 map, conv 3x3 pad 1: a pooled cell reaches 4 (corner), 6 (edge) or 9 (centre)
    # outputs; 4*4 + 4*6 + 9 = 49, each cell fed by 4 inputs: 196 per spike of all 36 inputs,
    # plus the input -> a identity edge (36)
    assert rec.feasible and rec.synops == pytest.approx(RATE_STEPS * (196 + 36))


def test_a_pool_composed_into_a_dense_layer_keeps_zero_columns_unconnected() -> None:
    pool = nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                         padding=np.array([0, 0]))
    weight = np.ones((3, 9))
    weight[:, 4] = 0.0  # nothing reads the centre pooled cell (inputs rows/cols 2..3)
    net = network_from_nir(_pool_graph(pool, nir.Linear(weight=weight), (3,), flatten=True))
    (proj,) = [p for p in net.projections if p.dst == "b"]
    assert proj.kind == "dense" and proj.mask is not None and proj.mask.shape == (3, 36)
    assert not proj.mask[:, 2 * 6 + 2].any() and proj.mask[:, 0].all()
    rec = estimate(net, None, "loihi2")
    assert rec.synops == pytest.approx(RATE_STEPS * ((36 - 4) * 3 + 36))


def test_conv1d_is_costed_as_a_conv_of_width_one() -> None:
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([2, 16])}),
               "c": nir.Conv1d(input_shape=None, weight=np.ones((4, 2, 3)), stride=1, padding=1,
                               dilation=1, groups=1, bias=np.zeros(4)),
               "b": nir.IF(r=np.array(1.0), v_threshold=np.array(1.0)),
               "output": nir.Output(output_type={"output": None})},
        edges=[("input", "c"), ("c", "b"), ("b", "output")], type_check=False,
    )
    net = network_from_nir(graph)
    assert _shapes(net)["b"] == (4, 16)
    # each of 2x16 inputs reaches 4 channels x 3 positions, 2 at either end: 2*(16*3-2)*4
    assert estimate(net, None, "loihi2").synops == pytest.approx(RATE_STEPS * 368)


def test_a_nested_feed_forward_subgraph_is_inlined() -> None:
    inner = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([4])}),
               "w": nir.Linear(weight=np.ones((3, 4))), "b": lif((3,)),
               "output": nir.Output(output_type={"output": np.array([3])})},
        edges=[("input", "w"), ("w", "b"), ("b", "output")],
    )
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([4])}), "a": lif((4,)),
               "block": inner, "output": nir.Output(output_type={"output": np.array([3])})},
        edges=[("input", "a"), ("a", "block"), ("block", "output")], type_check=False,
    )
    net = network_from_nir(graph)
    assert [la.name for la in net.neuron_layers] == ["a", "block.b"]
    (proj,) = [p for p in net.projections if p.dst == "block.b"]
    assert (proj.src, proj.via, proj.kind) == ("a", "block.w", "dense")


def test_a_neuron_whose_parameters_disagree_with_its_input_is_one_line() -> None:
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([4])}),
               "w": nir.Linear(weight=np.ones((3, 4))), "b": lif((5,))},
        edges=[("input", "w"), ("w", "b")], type_check=False,
    )
    with pytest.raises(HwsimInputError, match="b: parameters of 3 values"):
        network_from_nir(graph)
