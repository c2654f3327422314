"""Our folded/fused training path against the per-timestep reference (spikingjelly single-step)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import autosnn
from bench.per_timestep import forward_per_timestep, per_timestep_copy
from tests.helpers import randomise_for_eval


@pytest.mark.parametrize("genotype", ["SRB_k5,SRB_k5,skip,SRB_k3,SRB_k5",
                                      "SCB_k3,skip,SRB_k5,SCB_k5,skip"])
def test_fp32_path_equals_reference_loss_with_eval_bn(genotype: str) -> None:
    model = randomise_for_eval(autosnn.build("snn1", genotype, channels=8, timesteps=4))
    ref = per_timestep_copy(model).eval()
    x = torch.randn(6, 3, 32, 32)
    y = F.one_hot(torch.arange(6) % 10, 10).float()
    ours = model(x)
    theirs = forward_per_timestep(ref, x)
    assert ours.sum() > 0  # spikes reach the output layer, so the comparison means something
    loss_ours, loss_ref = F.mse_loss(ours, y), F.mse_loss(theirs, y)
    assert abs(loss_ours.item() - loss_ref.item()) <= 1e-4
    assert torch.allclose(ours, theirs, atol=1e-6)
    ref_layers = [n for n, _ in ref.active_spiking_layers()]
    ours_layers = model.spike_report().per_layer
    assert list(ours_layers) == ref_layers


def test_gradients_match_reference_with_eval_bn() -> None:
    model = randomise_for_eval(autosnn.build(channels=4, timesteps=3))
    ref = per_timestep_copy(model).eval()
    x = torch.randn(4, 3, 32, 32)
    y = F.one_hot(torch.arange(4), 10).float()
    F.mse_loss(model(x), y).backward()
    F.mse_loss(forward_per_timestep(ref, x), y).backward()
    g_ours = model.stem.conv.conv.weight.grad
    g_ref = ref.stem.conv.conv.weight.grad
    assert g_ours.abs().sum() > 0
    assert torch.allclose(g_ours, g_ref, atol=1e-5, rtol=1e-4)
