"""The Speck space: its IF neuron, blocks and the 'fits by construction' rule, checked against
hand-computed values and (where sinabs is installed) against sinabs's own memory and mapping."""

from __future__ import annotations

import itertools
import random

import nir
import pytest
import torch

import autosnn
from autosnn.core import speck
from autosnn.core.errors import AutosnnError
from autosnn.core.neuron import PLIF, timesteps
from autosnn.core.speck import (
    IF,
    SPECK_CANDIDATES,
    SpeckSRB,
    SumPool,
    layer_need,
    match_cores,
    max_channels,
    speck_needs,
)
from exporters.nir_export import to_nir
from exporters.speck_compat import sinabs_available

needs_sinabs = pytest.mark.skipif(
    not sinabs_available(), reason="sinabs not installed (pip install 'autosnn[speck]')")


def _run_if(values: list[float], reset: str) -> list[float]:
    x = torch.tensor(values).reshape(len(values), 1)
    with timesteps(len(values)):
        return IF(reset)(x).flatten().tolist()


def test_if_integrates_without_leak_and_resets_as_configured() -> None:
    # v: 0.7, 1.4 -> spike; zero reset: 0, 0.7 (no spike); subtract: 0.4, 1.1 -> spike
    assert _run_if([0.7, 0.7, 0.7], "zero") == [0.0, 1.0, 0.0]
    assert _run_if([0.7, 0.7, 0.7], "subtract") == [0.0, 1.0, 1.0]
    # no leak: 0.25 per step reaches the threshold exactly at step 4 (fires at v >= 1)
    assert _run_if([0.25] * 4, "zero") == [0.0, 0.0, 0.0, 1.0]
    # a PLIF (leaky, tau 2) never gets there on the same input
    x = torch.full((4, 1), 0.25)
    with timesteps(4):
        assert PLIF()(x).sum() == 0


def test_if_has_a_surrogate_gradient() -> None:
    x = torch.full((3, 5), 0.6, requires_grad=True)
    with timesteps(3):
        IF("zero")(x).sum().backward()
    assert x.grad is not None and bool((x.grad != 0).all())


def test_sum_pool_passes_the_spike_count() -> None:
    x = torch.tensor([[[[1.0, 1.0], [0.0, 1.0]]]])
    assert SumPool()(x).item() == 3.0


def test_speck_space_builds_if_neurons_only_and_refuses_other_blocks() -> None:
    net = autosnn.build("speck", "speck_SRB_k3,speck_skip,speck_SCB_k5", channels=4,
                        input_shape=(1, 32, 32), timesteps=2)
    neurons = [m for m in net.modules() if isinstance(m, (IF, PLIF))]
    assert neurons and all(isinstance(m, IF) and m.reset == "zero" for m in neurons)
    assert net(torch.rand(2, 1, 32, 32)).shape == (2, 10)
    with pytest.raises(AutosnnError, match="speck_skip"):
        autosnn.build("speck", "SRB_k3,speck_skip,speck_skip", channels=4)
    ann = autosnn.build("speck", "speck_SCB_k3,speck_skip,speck_skip", channels=4,
                        neuron="relu")
    assert not any(isinstance(m, (IF, PLIF)) for m in ann.modules())


def test_speck_space_refuses_widths_and_inputs_the_chip_cannot_hold() -> None:
    assert max_channels(1, 10) == 16
    autosnn.build("speck", "speck_SCB_k5,speck_SCB_k5,speck_SCB_k5", channels=16,
                  input_shape=(1, 32, 32))
    with pytest.raises(AutosnnError, match="channels 18 do not fit Speck.*at most 16"):
        autosnn.build("speck", "speck_skip,speck_skip,speck_skip", channels=18)
    with pytest.raises(AutosnnError, match="input shape 2x128x128"):
        autosnn.build("speck", "speck_skip,speck_skip,speck_skip", channels=4,
                      input_shape=(2, 128, 128))


def test_memory_formula_matches_hand_computed_words() -> None:
    # kernel: 8 * 2^(ceil log2 25 = 5 + ceil log2 8 = 3) = 2048; neurons: 8 * 2^(4 + 4) = 2048
    n = layer_need("x", 8, 8, 5, 16, 16)
    assert (n.kernel, n.neuron, n.bias) == (2048, 2048, 8)
    # head of a 2x2 map, 10 classes (100 neurons -> 128): 16 * 2^(2 + 7) = 8192, no bias
    head = speck_needs(("speck_skip",) * 3, 16)[-1]
    assert (head.kernel, head.neuron, head.bias) == (8192, 100, 0)


def test_every_architecture_fits_at_the_largest_width_and_some_do_not_beyond() -> None:
    layers = [len(speck_needs(g, 16)) for g in itertools.product(SPECK_CANDIDATES, repeat=3)]
    assert max(layers) == 8 and min(layers) == 2  # <= 9 cores; all-skip: stem + head
    for g in itertools.product(SPECK_CANDIDATES, repeat=3):
        needs = speck_needs(g, 16)
        assert all(n.destinations <= 2 for n in needs)
        assert match_cores(needs) is not None
    # 6 k5 layers at C = 18 need 18432 kernel words each: only 4 cores (3-6) hold that
    assert match_cores(speck_needs(("speck_SCB_k5",) * 3, 18)) is None
    assert match_cores(speck_needs(("speck_SCB_k5", "speck_SCB_k5", "speck_skip"), 18))


def test_spike_merge_residual_lowers_to_nir_if_with_two_equal_kernels() -> None:
    net = autosnn.build("speck", "speck_SRB_k3,speck_skip,speck_skip", channels=4,
                        input_shape=(1, 32, 32), timesteps=2).eval()
    g = to_nir(net)
    name = "body.1.ops.speck_SRB_k3"
    assert isinstance(g.nodes["stem.lif"], nir.IF)
    assert isinstance(g.nodes[f"{name}.lif2"], nir.IF)
    into = sorted(a for a, b in g.edges if b == f"{name}.lif2")
    assert into == [f"{name}.conv2", f"{name}.conv2_merge"]
    w1, w2 = g.nodes[f"{name}.conv2"].weight, g.nodes[f"{name}.conv2_merge"].weight
    assert (w1 == w2).all()
    assert not g.nodes[f"{name}.conv2_merge"].bias.any()  # the folded bias counts once
    block = net.body[1].ops["speck_SRB_k3"]
    assert isinstance(block, SpeckSRB) and block.merge


def test_subtract_reset_has_no_nir_node() -> None:
    net = autosnn.build("speck", "speck_SCB_k3,speck_skip,speck_skip", channels=4,
                        input_shape=(1, 32, 32), timesteps=2, neuron="if-subtract").eval()
    with pytest.raises(AutosnnError, match="subtract reset"):
        to_nir(net)


@needs_sinabs
def test_memory_and_mapping_verdicts_equal_sinabs(monkeypatch) -> None:
    """Our memory words per layer and our matching verdict equal sinabs's (DynapcnnNetwork's
    memory_summary and map_layers_to_cores) on random architectures and widths, some past what
    the space admits (the space's width check is lifted for them)."""
    from exporters.base import ExportError
    from exporters.speck_export import map_cores, speck_network, to_dynapcnn

    monkeypatch.setattr(speck, "fits_all", lambda *a: "")
    rng = random.Random(3)
    verdicts = []
    cases = [(tuple(rng.choice(SPECK_CANDIDATES) for _ in range(3)), rng.choice((8, 16, 24, 32)))
             for _ in range(8)] + [(("speck_SCB_k5",) * 3, 18), (("speck_SRB_k3",) * 3, 16)]
    for geno, width in cases:
        net = autosnn.build("speck", ",".join(geno), channels=width, input_shape=(1, 32, 32),
                            timesteps=2).eval()
        dn = to_dynapcnn(speck_network(net))
        mem = dn.memory_summary()
        needs = speck_needs(geno, width)
        got = [(int(mem["kernel"][i]), int(mem["neuron"][i])) for i in sorted(mem["kernel"])]
        assert got == [(n.kernel, n.neuron) for n in needs], (geno, width)
        dests = [len(dn.layer_destination_map[i]) for i in sorted(mem["kernel"])]
        assert dests == [n.destinations for n in needs], (geno, width)
        try:
            map_cores(dn)
            theirs = True
        except ExportError:
            theirs = False
        ours = match_cores(needs) is not None
        assert ours == theirs, (geno, width)
        verdicts.append(ours)
    assert True in verdicts and False in verdicts  # both verdicts were exercised


def test_hwsim_speck_verdicts_equal_sinabs_rules(monkeypatch) -> None:
    """hwsim's feasible/infeasible verdict on the speck profile equals the sinabs rules (our
    matching, proven equal to sinabs's above) on 50 random architectures and widths; its words
    per layer equal sinabs's formulas, and a refusal names core_memory_words for the layers that
    really have no core (sinabs's max-flow error names none): as many as the cores lack, the
    rest mapping without them."""
    import hwsim
    from hwsim.speck_memory import layer_words

    monkeypatch.setattr(speck, "fits_all", lambda *a: "")
    chip = hwsim.load_chip("speck")
    rng = random.Random(5)
    verdicts = []
    for _ in range(50):
        geno = tuple(rng.choice(SPECK_CANDIDATES) for _ in range(3))
        width = rng.choice((8, 16, 24, 32))
        net = autosnn.build("speck", ",".join(geno), channels=width, input_shape=(1, 32, 32),
                            timesteps=2).eval()
        needs = speck_needs(geno, width)
        ours = match_cores(needs) is not None
        network = hwsim.network_from_nir(to_nir(net), where=",".join(geno))
        layers = network.neuron_layers
        assert [layer_words(network, la) for la in layers] == [
            (n.kernel, n.neuron) for n in needs], (geno, width)
        reasons = hwsim.fit_reasons(network, chip)
        assert (not reasons) == ours, (geno, width)
        verdicts.append(ours)
        if ours:
            continue
        assert {r.kind for r in reasons} == {"core_memory_words"}, (geno, width, reasons)
        index = {la.name: i for i, la in enumerate(layers)}
        named = {index[r.layer] for r in reasons}
        for r in reasons:
            assert r.needed == needs[index[r.layer]].kernel, (geno, width, r)
        # the named layers are exactly as many as the cores lack: the rest maps without them,
        # and with any one of them back it does not
        assert match_cores([n for i, n in enumerate(needs) if i not in named]), (geno, width)
        for back in named:
            rest = [n for i, n in enumerate(needs) if i not in named or i == back]
            assert match_cores(rest) is None, (geno, width, layers[back].name)
    assert verdicts.count(False) >= 5 and verdicts.count(True) >= 5, verdicts
