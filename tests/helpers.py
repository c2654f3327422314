"""Test helpers (not fixtures): make random networks active enough to be worth comparing."""

from __future__ import annotations

import torch
from torch import nn

from autosnn.core.neuron import PLIF


def randomise_for_eval(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random PLIF time constants and BN affine parameters; BN statistics calibrated on one
    random batch and then perturbed, so spikes reach the output layer. Returns eval mode."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.momentum = None  # cumulative average: one batch sets the statistics
                m.reset_running_stats()
                m.weight.copy_(torch.rand(c, generator=g) * 1.5 + 0.5)
                m.bias.copy_(torch.rand(c, generator=g) * 0.8)
            elif isinstance(m, PLIF):
                m.w.fill_(float(torch.randn((), generator=g) * 0.7))
            elif isinstance(m, nn.Linear):
                m.weight.mul_(4.0).add_(0.01)
        shape = model.config.input_shape  # type: ignore[attr-defined]
        model.train()
        model(torch.randn(8, *shape, generator=g))
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.add_(torch.randn(c, generator=g) * 0.05)
                m.running_var.mul_(torch.rand(c, generator=g) * 0.4 + 0.8)
                m.momentum = 0.1
    return model.eval()


def halves_data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Synthetic two-class images (1x32x32): the bright half (left or right), plus noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.rand(n, 1, 32, 32, generator=g) * 0.3
    x[y == 0, :, :, :16] += 0.7
    x[y == 1, :, :, 16:] += 0.7
    return x, y


def fit_halves(net: nn.Module, steps: int) -> nn.Module:
    """``steps`` Adam steps (lr 1e-2, MSE on one-hot) on 96 :func:`halves_data` images in
    batches of 32: a tiny network whose classes mean something. Returns it in train mode."""
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    x, y = halves_data(96, 0)
    net.train()
    for step in range(steps):
        i = torch.arange(32) + 32 * (step % 3)
        target = nn.functional.one_hot(y[i], 2).float()
        loss = nn.functional.mse_loss(net(x[i]), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net
