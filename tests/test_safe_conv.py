"""Strided 1x1 convolutions avoid oneDNN's broken kernel and compute the same sums.

oneDNN's 1x1 backward-weights kernel for channels_last inputs with fewer input channels than
its block and a stride > 1 hangs or returns wrong weight gradients (uxlfoundation/oneDNN#6035);
``safe_conv2d`` subsamples first. These tests compare against float64 NCHW (oneDNN is not used
for float64) on the shapes our blocks have: the SRB shortcut and the factorised reduce (1x1,
stride 2, C = 1..6 input channels).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

from autosnn.core.blocks import ConvBN, FactorizedReduce, safe_conv2d


@pytest.mark.timeout(120)
@pytest.mark.parametrize("cin", [1, 3, 4, 6])
def test_strided_pointwise_gradients_match_float64_in_channels_last(cin: int) -> None:
    torch.manual_seed(cin)
    block = ConvBN(cin, 8, 1, 2)
    x = torch.randn(32, cin, 32, 32)
    g = torch.randn(32, 8, 16, 16)
    for _ in range(20):  # the broken kernel hung in ~1 of 5 runs: give it many chances
        w = block.conv.weight.detach().clone().requires_grad_(True)
        xc = x.clone(memory_format=torch.channels_last).requires_grad_(True)
        out = safe_conv2d(xc, w, None, block.conv.stride, block.conv.padding)
        out.backward(g.contiguous(memory_format=torch.channels_last))
        w64 = w.detach().double().requires_grad_(True)
        x64 = x.detach().double().requires_grad_(True)
        ref = F.conv2d(x64, w64, None, 2, 0)
        ref.backward(g.double())
        assert out.shape == ref.shape
        torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)
        assert w.grad is not None and w64.grad is not None
        torch.testing.assert_close(w.grad.double(), w64.grad, rtol=1e-4, atol=1e-4)
        assert xc.grad is not None and x64.grad is not None
        torch.testing.assert_close(xc.grad.double(), x64.grad, rtol=1e-5, atol=1e-5)


def test_blocks_still_declare_stride_two_for_the_exporters() -> None:
    assert ConvBN(4, 8, 1, 2).conv.stride == (2, 2)
    fr = FactorizedReduce(4, 8)
    assert fr.conv_a.stride == (2, 2) and fr.conv_b.stride == (2, 2)
    y = fr(torch.randn(2, 4, 7, 7))  # odd size: ceil(7 / 2) = 4, as a stride-2 conv gives
    assert y.shape == (2, 8, 4, 4)


@settings(max_examples=60, deadline=None)
@given(cin=st.integers(1, 5), cout=st.integers(1, 5), k=st.sampled_from([1, 3]),
       stride=st.integers(1, 3), pad=st.integers(0, 1), size=st.integers(3, 9),
       groups_one=st.booleans())
def test_safe_conv2d_equals_conv2d(cin: int, cout: int, k: int, stride: int, pad: int,
                                   size: int, groups_one: bool) -> None:
    groups = 1 if groups_one or cin != cout else cin
    x = torch.randn(2, cin, size, size, dtype=torch.float64)
    w = torch.randn(cout, cin // groups, k, k, dtype=torch.float64)
    b = torch.randn(cout, dtype=torch.float64)
    want = F.conv2d(x, w, b, stride, pad, 1, groups)
    got = safe_conv2d(x, w, b, stride, pad, groups)
    torch.testing.assert_close(got, want)
