"""NIR export: exact spike equality with the PyTorch model, graph contents, semantics, round trip."""

from __future__ import annotations

import math
import random

import nir
import numpy as np
import pytest
import torch

import autosnn
from autosnn.core.errors import AutosnnError
from exporters import ExportError, get_exporter, list_exporters
from exporters.nir_export import activity_to_nir_names, read_nir, to_nir
from exporters.nir_run import NIRModule, from_nir
from exporters.verify import compare_nir, random_input, randomise

T, N, C, CLASSES = 4, 2, 4, 3


def _space_net(space: str, seed: int = 0, **kw) -> autosnn.SpikingNet:
    torch.manual_seed(seed)
    geno = autosnn.get_space(space).sample(random.Random(seed))
    return autosnn.build(space, geno, channels=C, num_classes=CLASSES, timesteps=T, **kw)


def _zoo_net(name: str, seed: int = 0) -> autosnn.SpikingNet:
    torch.manual_seed(seed)
    return autosnn.build_model(name, channels=C, num_classes=CLASSES, timesteps=T)


def _networks():
    for space in autosnn.list_spaces():
        yield pytest.param(lambda s=space: _space_net(s, 1), id=f"space-{space}")
    for zoo in autosnn.list_zoo():
        yield pytest.param(lambda z=zoo: _zoo_net(z), id=f"zoo-{zoo}")
    # every candidate kind incl. stride-2 factorised reduce and the inverted bottleneck
    yield pytest.param(
        lambda: autosnn.build("snn3", "skip,skip,SRB_k3,SCB_k5,SRB_k5,skip,SIB_k3_e3,skip",
                              channels=C, num_classes=CLASSES, timesteps=T),
        id="snn3-mixed",
    )
    yield pytest.param(
        lambda: autosnn.build("snn1", "SRB_k3,SCB_k3,skip,SRB_k5,SIB_k5_e1", channels=C,
                              num_classes=CLASSES, timesteps=T, input_shape=(2, 34, 34)),
        id="nmnist-events",
    )
    yield pytest.param(
        lambda: autosnn.build("snn1", "skip,SCB_k3,SRB_k3,skip,SRB_k5", channels=C,
                              num_classes=CLASSES, timesteps=T, input_shape=(3, 64, 64)),
        id="tiny-imagenet-stem",
    )


@pytest.mark.parametrize("make", list(_networks()))
def test_executor_spikes_identical_to_pytorch(make):
    net = randomise(make(), seed=3)
    x = random_input(net, N, seed=5)
    with torch.no_grad():
        rates = net(x)
    check = compare_nir(net, x)
    print(f"spikes compared {check.spikes_compared}, mismatch rate {check.mismatch_rate:.2e}")
    assert check.mean_rate > 0.01, "the network barely spikes: the comparison would be vacuous"
    assert check.near_ties_only, f"non-tie mismatch: {check.per_layer}"
    assert check.mismatch_rate <= 1e-3
    res = NIRModule(to_nir(net)).run(x, T if x.dim() == 4 else None)
    if check.per_layer[net.active_spiking_layers()[-1][0]] == 0:
        torch.testing.assert_close(res.output.mean(0), rates, atol=1e-6, rtol=0)


def test_a_second_genotype_of_every_space_is_spike_exact():
    """A second random genotype per space: the union of both draws covers most candidates."""
    rates = []
    for space in autosnn.list_spaces():
        net = randomise(_space_net(space, seed=11), seed=7)
        check = compare_nir(net, random_input(net, N, seed=2))
        rates.append(check.mismatch_rate)
        assert check.near_ties_only and check.mismatch_rate <= 1e-3, (space, check.per_layer)
    print("mismatch rates", rates)


def test_batchnorm_is_folded_into_conv_weights_and_bias():
    net = randomise(autosnn.build("snn1", "SCB_k3,SCB_k3,SCB_k3,SCB_k3,SCB_k3", channels=C,
                                  num_classes=CLASSES, timesteps=T), seed=1)
    g = to_nir(net)
    conv = net.stem.conv
    bn = conv.bn
    node = g.nodes["stem.conv"]
    assert isinstance(node, nir.Conv2d)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        want = bn(conv.conv(x))
    got = torch.nn.functional.conv2d(x, torch.from_numpy(node.weight), torch.from_numpy(node.bias),
                                     padding=1)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert not any("bn" in name.lower() for name in g.nodes)


def test_plif_maps_to_lif_with_tau_dt_over_k():
    net = randomise(_space_net("snn1"), seed=2)
    g = to_nir(net, dt=1e-3)
    lif = g.nodes["stem.lif"]
    k = 1.0 / (1.0 + math.exp(-float(net.stem.lif.w.detach())))
    assert isinstance(lif, nir.LIF)
    assert lif.tau.shape == (C, 32, 32)  # no batch dimension
    np.testing.assert_allclose(lif.tau, 1e-3 / k, rtol=1e-6)
    assert np.all(lif.r == 1) and np.all(lif.v_leak == 0) and np.all(lif.v_reset == 0)
    assert np.all(lif.v_threshold == 1)
    assert g.metadata["dt"] == 1e-3


def test_metadata_records_architecture():
    net = _space_net("snn2", seed=4)
    g = to_nir(net)
    md = g.metadata
    assert md["space"] == "snn2" and md["genotype"] == ",".join(net.genotype)
    assert md["channels"] == C and md["classes"] == CLASSES and md["T"] == T
    assert md["dt"] > 0
    zoo = to_nir(_zoo_net("cifarnet-fang")).metadata
    assert zoo["zoo"] == "cifarnet-fang" and zoo["genotype"] == ""


def test_maxpool_becomes_sumpool_and_threshold_half():
    g = to_nir(_space_net("snn1"))
    assert isinstance(g.nodes["body.1.sum"], nir.SumPool2d)
    assert isinstance(g.nodes["body.1"], nir.Threshold)
    assert np.all(g.nodes["body.1"].threshold == 0.5)
    assert ("body.1.sum", "body.1") in g.edges


def test_residual_add_is_two_edges_into_one_lif():
    net = autosnn.build("snn1", "SRB_k3,SRB_k3,SRB_k3,SRB_k3,SRB_k3", channels=C,
                        num_classes=CLASSES, timesteps=T)
    g = to_nir(net)
    into = [s for s, d in g.edges if d == "body.0.ops.SRB_k3.lif2"]
    assert sorted(into) == ["body.0.ops.SRB_k3.conv2", "stem.lif"]  # identity shortcut edge
    into = [s for s, d in g.edges if d == "body.2.ops.SRB_k3.lif2"]  # C -> 2C: conv shortcut
    assert sorted(into) == ["body.2.ops.SRB_k3.conv2", "body.2.ops.SRB_k3.shortcut"]


def test_identity_skip_is_an_edge_without_nodes():
    net = autosnn.build("snn1", "skip,SCB_k3,SCB_k3,SCB_k3,SCB_k3", channels=C,
                        num_classes=CLASSES, timesteps=T)
    g = to_nir(net)
    assert not any(n.startswith("body.0.") for n in g.nodes)
    assert ("stem.lif", "body.1.sum") in g.edges


def test_lif_follows_forward_euler_golden_trajectory():
    """Hand-computed: tau = dt / 0.5, r = 1, I = 1 each step -> v: 0.5, 0.75, 0.875, 0.9375;
    with threshold 0.875 strict it fires at step 4 (0.9375), not at step 3 (exactly 0.875)."""
    dt = 1e-4
    lif = nir.LIF(tau=np.array([dt / 0.5]), r=np.array([1.0]), v_leak=np.array([0.0]),
                  v_threshold=np.array([0.875]), v_reset=np.array([0.0]))
    g = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([1])}), "lif": lif,
               "output": nir.Output(output_type={"output": np.array([1])})},
        edges=[("input", "lif"), ("lif", "output")], metadata={"dt": dt},
    )
    x = torch.full((6, 1, 1), 1.0)
    res = from_nir(g).run(x, record=True)
    assert res.output.flatten().tolist() == [0, 0, 0, 1, 0, 0]
    torch.testing.assert_close(res.potentials["lif"].flatten()[:4],
                               torch.tensor([0.5, 0.75, 0.875, 0.9375]), atol=1e-6, rtol=0)
    geq = from_nir(g, threshold="geq").run(x).output.flatten().tolist()
    assert geq[2] == 1.0  # autosnn / spikingjelly semantics fire at equality


def test_nir_file_round_trip_gives_the_same_spikes(tmp_path):
    net = randomise(_space_net("snn3", seed=2), seed=2)
    x = random_input(net, N)
    path = get_exporter("nir").export(net, tmp_path / "net.nir")
    g = read_nir(path)
    assert g.metadata["space"] == "snn3" and g.metadata["T"] == T
    a = NIRModule(to_nir(net)).run(x, T, record=True)
    b = NIRModule(g).run(x, T, record=True)
    torch.testing.assert_close(a.output, b.output, atol=0, rtol=0)
    for k in a.spikes:
        assert torch.equal(a.spikes[k], b.spikes[k]), k


@pytest.mark.parametrize("compat", ["norse", "spikingjelly"])
def test_compat_graphs_use_only_consumer_primitives_and_stay_exact(compat):
    net = randomise(autosnn.build("snn3", "SRB_k3,skip,SCB_k3,SRB_k5,skip,SIB_k3_e3,skip,skip",
                                  channels=C, num_classes=CLASSES, timesteps=T), seed=4)
    g = to_nir(net, compat=compat)
    kinds = {type(n) for n in g.nodes.values()}
    assert nir.Threshold not in kinds
    if compat == "norse":
        assert nir.AvgPool2d not in kinds
    else:
        assert nir.SumPool2d not in kinds
        assert all(np.asarray(n.groups) == 1 for n in g.nodes.values() if isinstance(n, nir.Conv2d))
    x = random_input(net, N, seed=1)
    a = NIRModule(to_nir(net)).run(x, T).output
    b = NIRModule(g).run(x, T).output
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_activity_keys_are_nir_spiking_node_names():
    net = randomise(_space_net("snn4", seed=3), seed=3)
    net.record_activity(True)
    with torch.no_grad():
        net(random_input(net, N))
    act = activity_to_nir_names(net, net.activity())
    g = to_nir(net)
    spiking = {n for n, v in g.nodes.items() if isinstance(v, (nir.LIF, nir.Threshold, nir.IF))}
    assert set(act) == spiking | {"input"}
    assert isinstance(g.nodes["input"], nir.Input)
    for name, counts in act.items():
        node = g.nodes[name]
        if name == "input":
            shape = tuple(node.input_type["input"])
        else:
            shape = node.threshold.shape if isinstance(node, nir.Threshold) else node.tau.shape
        assert counts.shape == (T, *shape), name  # per timestep
    net.record_activity(False)


def test_relu_network_is_refused_naming_the_layer():
    net = autosnn.build("snn1", "SCB_k3,SCB_k3,SCB_k3,SCB_k3,SCB_k3", channels=C,
                        num_classes=CLASSES, timesteps=T, neuron="relu")
    with pytest.raises(ExportError, match="stem.lif"):
        to_nir(net)


def test_unknown_compat_and_target_are_clear_errors():
    with pytest.raises(ExportError, match="compat"):
        to_nir(_space_net("snn1"), compat="loihi")
    with pytest.raises(AutosnnError, match="unknown export target 'tflite'; expected one of: nir"):
        get_exporter("tflite")
    assert {"nir", "onnx", "lava"} <= set(list_exporters())


def test_membrane_exactly_on_threshold_differs_unless_geq_threshold():
    """Exactly one stem spike per 2x2 window: the spike-count pooling gives X = 1.0, and with
    k = 1.0 (w = 30 rounds sigmoid to 1 in float32) H = 1.0 exactly: autosnn fires (>=), NIR's
    strict > does not, and the ``geq_threshold`` export (threshold = float32 just below 1)
    fires exactly like autosnn."""
    torch.manual_seed(0)
    net = autosnn.build("snn4", "skip,SCB_k3,SCB_k3,SCB_k3,SCB_k3", channels=C,
                        num_classes=CLASSES, timesteps=T).eval()
    with torch.no_grad():
        w = net.stem.conv.conv.weight
        w.zero_()
        w[:, :, 1, 1] = 1.0  # centre tap only: the current follows the input pixel
        bn = net.stem.conv.bn
        bn.running_mean.zero_()
        bn.running_var.fill_(1.0)
        bn.weight.fill_(10.0)
        bn.bias.zero_()
        net.body[1].lif.w.fill_(30.0)
    x = torch.zeros(N, 3, 32, 32)
    x[:, 0, ::2, ::2] = 1.0  # one lit pixel in every 2x2 window -> one stem spike per window
    from exporters.interop import model_run

    ref = model_run(net, x).spikes["body.1.lif"]
    assert ref.all()
    strict = NIRModule(to_nir(net)).run(x, T, record=True).spikes["body.1.lif"]
    assert not strict.any()
    exact = NIRModule(to_nir(net, geq_threshold=True)).run(x, T, record=True).spikes
    assert torch.equal(exact["body.1.lif"].reshape(ref.shape), ref)
    check = compare_nir(randomise(_space_net("snn1"), seed=3), random_input(
        _space_net("snn1"), N), geq_threshold=True)
    assert check.near_ties_only
