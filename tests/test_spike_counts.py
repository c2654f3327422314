"""Measured spikes per layer equal a count worked out by hand.

Every convolution's weights are zero and every BN is in eval mode with mean 0, var 1, gamma 0,
so each neuron's input current is its BN bias: a constant we choose. With tau = 2 (k = 1/2):
  - current 2.5: H = 1.25 at t=1 -> fires every step            (T spikes)
  - current 1.5: H = 0.75, 1.125 -> fires every 2nd step         (T/2 spikes)
  - current 0.9: H approaches 0.9 < 1 -> never fires              (0 spikes)
"""

from __future__ import annotations

import torch
from torch import nn

import autosnn

T = 4
C = 2


def _set_bn_bias(bn: nn.BatchNorm2d, biases: list[float]) -> None:
    bn.running_mean.zero_()
    bn.running_var.fill_(1.0 - bn.eps)
    bn.weight.zero_()
    bn.bias.copy_(torch.tensor(biases))


def test_spikes_per_layer_equal_hand_count() -> None:
    model = autosnn.build("snn1", "skip,skip,skip,skip,skip", channels=C, num_classes=10,
                          input_shape=(1, 32, 32), timesteps=T)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.zero_()
        _set_bn_bias(model.stem.conv.bn, [2.5, 1.5])             # stem: T and T/2 spikes
        slot2 = model.body[2].ops["skip"]                         # C -> 2C: conv1x1-BN-PLIF
        _set_bn_bias(slot2.reduce.bn, [2.5, 1.5, 0.9, 2.5])       # T, T/2, 0, T
        slot4 = model.body[5].ops["skip"]                         # 2C -> 4C
        _set_bn_bias(slot4.reduce.bn, [1.5] * 8)                  # all T/2 (at t = 2, 4)
        # FC: inputs are all ones at t = 2, 4 (128 inputs). Class 0's ten neurons get
        # 128 * 2.5/128 = 2.5 -> fire at t = 2, 4; every other output neuron gets 0.
        model.head.fcs[0].weight[:10].fill_(2.5 / 128)
    model.eval()
    rates = model(torch.randn(3, 1, 32, 32))

    per_pixel_stem = T + T // 2                      # 6 spikes per (ch0, ch1) pixel pair
    expected = {
        "stem.lif": 32 * 32 * per_pixel_stem,                         # 6144
        "body.1": 16 * 16 * per_pixel_stem,                           # max-pool of the same
        "body.2.ops.skip.lif": 16 * 16 * (T + T // 2 + 0 + T),        # 2560
        "body.4": 8 * 8 * (T + T // 2 + 0 + T),                       # 640
        "body.5.ops.skip.lif": 4 * C * 8 * 8 * (T // 2),              # 1024
        "body.7": 4 * 4 * 4 * C * (T // 2),                           # 256
        "head.lifs.0": 10 * (T // 2),                                 # 20
    }
    report = model.spike_report()
    assert report.per_layer == expected                # identity skips contribute no entry
    assert report.total == sum(expected.values()) == 12180
    assert torch.equal(rates[:, 0], torch.full((3,), 0.5))
    assert torch.equal(rates[:, 1:], torch.zeros(3, 9))


def test_per_neuron_activity_sums_to_layer_spikes() -> None:
    model = autosnn.build(channels=4, timesteps=3).eval()
    model.record_activity(True)
    model(torch.randn(5, 3, 32, 32) * 3)
    act = model.activity()
    report = model.spike_report()
    assert set(act) == set(report.per_layer) | {"input"}
    for name in report.per_layer:
        counts = act[name]
        assert abs(float(counts.sum()) - report.per_layer[name]) < 1e-3 * max(1.0, counts.sum())
    assert act["stem.lif"].shape == (3, 4, 32, 32)  # (T, C, H, W): counts per timestep
    # a static image is presented at every step: one message per non-zero input value per step
    assert act["input"].shape == (3, 3, 32, 32)
    assert torch.equal(act["input"], torch.ones(3, 3, 32, 32))


def test_ann_variant_counts_no_spikes_even_at_max_pools() -> None:
    model = autosnn.build(channels=4, timesteps=1, neuron="relu").eval()
    model(torch.randn(2, 3, 32, 32))
    assert model.active_spiking_layers() == []
