"""hwsim on Speck as sinabs maps it: chained pools stay one pool in the sending core, and a
layer fed by two layers is a spike merge through one kernel (two different kernels refused)."""

from __future__ import annotations

import nir
import numpy as np

import autosnn
import hwsim
from exporters.nir_export import to_nir
from hwsim.speck_memory import layer_words


def _srb_graph() -> nir.NIRGraph:
    net = autosnn.build("speck", "speck_SRB_k3,speck_skip,speck_skip", channels=4,
                        input_shape=(1, 32, 32), timesteps=2).eval()
    return to_nir(net)


def test_spike_merge_is_one_kernel_and_two_different_kernels_are_refused() -> None:
    chip = hwsim.load_chip("speck")
    g = _srb_graph()
    lif2 = "body.1.ops.speck_SRB_k3.lif2"
    network = hwsim.network_from_nir(g)
    # conv2: Cin 4 * 2^(ceil log2 9 = 4 + ceil log2 4 = 2) = 256 words, once (not 512)
    assert layer_words(network, network.layer(lif2)) == (256, 4 * 2 ** (4 + 4))
    assert not hwsim.fit_reasons(network, chip)
    merge = g.nodes["body.1.ops.speck_SRB_k3.conv2_merge"]
    merge.weight = np.asarray(merge.weight) * 2.0  # another kernel into the same neurons
    reasons = hwsim.fit_reasons(hwsim.network_from_nir(g), chip)
    assert [(r.kind, r.layer) for r in reasons] == [("kernel", lif2)]
    assert "one kernel" in reasons[0].message


def test_chained_pools_before_the_head_are_one_pool_of_the_sending_core() -> None:
    # all skips: stem (32x32) -> four 2x2 sum-pools -> Linear over 4x2x2: sinabs pools by 16 in
    # the stem's core; the head's kernel is the pooled 2x2 map: 4 * 2^(2 + ceil log2 100 = 7)
    net = autosnn.build("speck", "speck_skip,speck_skip,speck_skip", channels=4,
                        input_shape=(1, 32, 32), timesteps=2).eval()
    network = hwsim.network_from_nir(to_nir(net))
    head = network.neuron_layers[-1]
    assert layer_words(network, head) == (4 * 2 ** (2 + 7), 100)
    (proj,) = [p for p in network.projections if p.dst == head.name]
    assert proj.pooled_chw == (4, 2, 2) and proj.in_chw == (4, 32, 32)
    # synaptic events stay exact on a chip that composes: each stem neuron reaches 100 outputs
    assert int(proj.mask.sum()) == 100 * 4 * 32 * 32
