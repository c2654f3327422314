"""The fused PLIF kernel against spikingjelly's ParametricLIFNode and a plain loop of the
update equations, forward and backward."""

from __future__ import annotations

import math

import pytest
import torch
from spikingjelly.activation_based import neuron, surrogate

from autosnn.core.neuron import PLIF, plif_multistep, timesteps


def plain_loop(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The update equations written out with autograd doing the rest (reference)."""
    k = torch.sigmoid(w)
    v = torch.zeros_like(x[0])
    out = []
    for t in range(x.shape[0]):
        h = v + (x[t] - v) * k
        # Heaviside forward, ATan surrogate backward (alpha = 2)
        u = h - 1.0
        sg = torch.atan(math.pi / 2 * 2.0 * u) / math.pi + 0.5
        s = sg + ((u >= 0).float() - sg).detach()
        v = h * (1.0 - s.detach())
        out.append(s)
    return torch.stack(out)


@pytest.mark.parametrize("w0", [-1.0, 0.0, 0.7])
def test_plif_matches_update_equations_in_float64(w0: float) -> None:
    """Same arithmetic precision on both sides: the fused kernel is the equations, exactly."""
    x = (torch.randn(8, 3000, dtype=torch.float64) * 1.5 + 0.7).requires_grad_()
    w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    g = torch.randn(8, 3000, dtype=torch.float64)
    ref = plain_loop(x, w)
    (ref * g).sum().backward()
    gx_ref, gw_ref = x.grad.clone(), w.grad.clone()
    x.grad, w.grad = None, None
    ours = plif_multistep(x, w)
    (ours * g).sum().backward()
    assert 0 < ref.sum() < ref.numel()  # some neurons fire, some do not
    assert torch.equal(ours, ref)
    assert torch.allclose(x.grad, gx_ref, atol=1e-9, rtol=0)
    assert abs(w.grad.item() - gw_ref.item()) <= 1e-9 * max(1.0, abs(gw_ref.item()))


@pytest.mark.parametrize("w0", [-1.0, 0.0, 0.7])
def test_plif_fp32_within_1e6_of_float64_equations(w0: float) -> None:
    """Our fp32 path against the float64 equations: spikes equal, per-element gradients to 1e-6;
    the scalar w-gradient sums 24,000 fp32 terms, so it is held to 1e-5 relative."""
    x = (torch.randn(8, 3000) * 1.5 + 0.7).requires_grad_()
    w = torch.tensor(w0, requires_grad=True)
    g = torch.randn(8, 3000)
    x64 = x.detach().double().requires_grad_()
    w64 = w.detach().double().requires_grad_()
    ref = plain_loop(x64, w64)
    (ref * g.double()).sum().backward()
    ours = plif_multistep(x, w)
    (ours * g).sum().backward()
    assert torch.equal(ours, ref.float())
    assert torch.allclose(x.grad, x64.grad.float(), atol=1e-6, rtol=0)
    assert abs(w.grad.item() - w64.grad.item()) <= 1e-5 * max(1.0, abs(w64.grad.item()))


def test_plif_layer_equals_spikingjelly_parametric_lif() -> None:
    T, shape = 6, (4, 3, 5, 5)
    x = (torch.randn(T * shape[0], *shape[1:]) * 2).requires_grad_()
    sj = neuron.ParametricLIFNode(init_tau=2.0, detach_reset=True,
                                  surrogate_function=surrogate.ATan(), step_mode="m")
    ours = PLIF()
    with torch.no_grad():
        sj.w.fill_(0.4)
        ours.w.fill_(0.4)
    g = torch.randn(T * shape[0], *shape[1:])
    out_sj = sj(x.reshape(T, *shape)).reshape_as(x)
    (out_sj * g).sum().backward()
    gx_sj, gw_sj = x.grad.clone(), sj.w.grad.clone()
    x.grad = None
    with timesteps(T):
        out = ours(x)
    (out * g).sum().backward()
    assert torch.equal(out, out_sj)
    assert torch.allclose(x.grad, gx_sj, atol=1e-6, rtol=0)
    assert torch.allclose(ours.w.grad, gw_sj, rtol=1e-6, atol=1e-6)


def test_plif_fires_at_threshold_equality_and_resets_to_zero() -> None:
    # k = 0.5 (tau = 2): input 2.0 gives H = 1.0 exactly at t=0 -> fires; then V = 0 again.
    x = torch.full((3, 1), 2.0)
    s = plif_multistep(x, torch.tensor(0.0))
    assert s.flatten().tolist() == [1.0, 1.0, 1.0]
    # input 1.5: H = 0.75, then 0.75 + 0.375 = 1.125 -> fires at t=1 only, then restarts
    s = plif_multistep(torch.full((4, 1), 1.5), torch.tensor(0.0))
    assert s.flatten().tolist() == [0.0, 1.0, 0.0, 1.0]


def test_plif_channels_last_input_gives_same_spikes() -> None:
    p = PLIF()
    x = torch.randn(4, 3, 5, 5) * 2
    with timesteps(2):
        a = p(x)
        b = p(x.contiguous(memory_format=torch.channels_last))
    assert torch.equal(a, b.contiguous())


def test_init_tau_is_two() -> None:
    assert PLIF().tau == pytest.approx(2.0)
