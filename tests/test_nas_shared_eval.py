"""The shared-prefix evaluator gives exactly the naive per-architecture results."""

from __future__ import annotations

import random

import pytest
import torch

import autosnn
from autosnn.search.evaluate import NaiveEvaluator, evaluate
from autosnn.search.outputs import extract_winner
from autosnn.search.shared_eval import SharedPrefixEvaluator

pytestmark = pytest.mark.usefixtures("one_thread")



def _supernet(space: str) -> autosnn.SpikingNet:
    torch.manual_seed(0)
    net = autosnn.build_supernet(space, 4, 10, (3, 32, 32), 2)
    for m in net.modules():  # non-trivial eval-mode BN so spikes and predictions vary
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.5)
            m.running_var.uniform_(0.3, 1.5)
    return net.eval()


def _batches(n_batches: int = 3, n: int = 8) -> list:
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(n, 3, 32, 32, generator=g) * 2, torch.randint(0, 10, (n,), generator=g))
            for _ in range(n_batches)]


@pytest.mark.parametrize("space", ["snn1", "snn2"])
def test_shared_prefix_matches_naive_exactly(space):
    net = _supernet(space)
    batches = _batches()
    spec = net.search_space()
    rng = random.Random(0)
    genos = sorted({spec.sample(rng) for _ in range(12)})
    genos += [genos[0][:-1] + ("skip",), ("skip",) * len(net.cells)]
    shared = SharedPrefixEvaluator(net, batches)
    got = shared(genos)
    want = NaiveEvaluator(net, batches)(genos)
    assert got == want  # identical accuracies and spike counts
    assert len({e.spikes for e in got}) > 3  # the check is not vacuous
    assert shared.stats["computed"] < shared.stats["naive"]


def test_extracted_winner_reproduces_the_supernet_path():
    net = _supernet("snn1")
    batches = _batches(2)
    g = ("SRB_k5", "skip", "SCB_k3", "SRB_k3", "SCB_k5")
    net.set_genotype(g)
    want = evaluate(net, batches)
    child = extract_winner(net, g)
    got = evaluate(child, batches)
    assert (got.accuracy, got.spikes) == (want.accuracy, want.spikes)
    assert got.per_layer == want.per_layer


def test_candidate_activity_is_per_layer_per_step_and_keyed_by_nir_names():
    # The search's one pass also yields each candidate's spikes per layer per timestep; they
    # must equal what the extracted winner records neuron by neuron, under its NIR node names.
    from exporters.nir_export import to_nir

    net = _supernet("snn1")
    batches = _batches(2)
    g = ("SRB_k5", "skip", "SCB_k3", "SRB_k3", "SCB_k5")
    (e,) = SharedPrefixEvaluator(net, batches)([g])
    child = extract_winner(net, g)
    child.record_activity(True)
    with torch.no_grad():
        for x, _ in batches:
            child(x)
    want = {k: v.sum(dim=tuple(range(1, v.dim()))) for k, v in child.activity().items()}
    assert set(e.activity) == set(want)
    graph_nodes = set(to_nir(child).nodes)
    assert set(e.activity) <= graph_nodes
    for name, steps in e.activity.items():
        assert len(steps) == 2  # T
        torch.testing.assert_close(torch.tensor(steps, dtype=torch.float64),
                                   want[name].double(), rtol=1e-6, atol=1e-6)
    assert sum(sum(v) for k, v in e.activity.items() if k != "input") == pytest.approx(e.spikes)


def test_per_image_outcomes_are_the_extracted_networks_predictions():
    # Paired comparisons of finalists need each image's outcome, in batch order: the same
    # evaluation as __call__, plus a vector that equals the stand-alone network's hits.
    net = _supernet("snn1")
    genos = [("SRB_k5", "skip", "SCB_k3", "SRB_k3", "SCB_k5"), ("skip",) * 5]
    # labels 0, 1, 0, 1 ... and 1, 0, 1, 0 ...: a network right on some images and wrong on
    # others, in an order a mix-up of images or batches would break
    batches = [(x, (torch.arange(8) + i) % 2) for i, (x, _) in enumerate(_batches(2))]
    shared = SharedPrefixEvaluator(net, batches)
    got = shared.per_image(genos)
    assert [e for e, _ in got] == shared(genos)
    for g, (e, hits) in zip(genos, got, strict=True):
        child = extract_winner(net, g)
        with torch.no_grad():
            want = torch.cat([child(x).argmax(1) == y for x, y in batches]).numpy()
        assert hits.dtype == bool and hits.shape == (16,)
        assert (hits == want).all() and hits.mean() == pytest.approx(e.accuracy)
    assert all(hits.any() and not hits.all() for _, hits in got)  # not vacuous
