"""Device and precision choice, torchrun's local GPU, and the CUDA path (tests marked ``cuda``).

The ``cuda`` tests skip without a GPU; ``bench/gpu_check.sh`` runs them (``pytest -m cuda``).
"""

from __future__ import annotations

import pytest
import torch

import autosnn
from autosnn.core import runtime
from autosnn.core.errors import AutosnnError
from autosnn.core.neuron import _backward_loop, _forward_loop, plif_multistep, set_compiled

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def test_auto_device_is_cuda_exactly_when_cuda_is_available() -> None:
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert runtime.resolve_device("auto").type == want
    assert runtime.resolve_device(None).type == want


def test_unusable_device_names_the_option() -> None:
    with pytest.raises(AutosnnError, match="--device 'gpu0'"):
        runtime.resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(AutosnnError, match="CUDA is not available"):
            runtime.resolve_device("cuda")


def test_local_rank_only_under_several_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert runtime.local_rank() is None
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert runtime.local_rank() == 3
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert runtime.local_rank() is None


@pytest.mark.parametrize(("fast", "want"), [(True, "bf16"), (False, "fp32")])
def test_auto_precision_is_bf16_only_on_native_bf16_cpus(monkeypatch: pytest.MonkeyPatch,
                                                         fast: bool, want: str) -> None:
    monkeypatch.setattr(runtime, "cpu_has_fast_bf16", lambda: fast)
    assert runtime.resolve_precision("auto", torch.device("cpu")) == want
    assert runtime.resolve_precision("fp32", torch.device("cpu")) == "fp32"
    assert runtime.resolve_precision("bf16", torch.device("cpu")) == "bf16"


def test_bad_precision_names_the_option() -> None:
    with pytest.raises(AutosnnError, match="--precision 'fp8'"):
        runtime.resolve_precision("fp8", torch.device("cpu"))


def test_cpu_flags_are_read_from_proc_cpuinfo() -> None:
    try:
        flags = open("/proc/cpuinfo").read().split()
    except OSError:
        pytest.skip("no /proc/cpuinfo")
    native = "avx512_bf16" in flags or "amx_bf16" in flags
    assert runtime.cpu_has_fast_bf16() is native


@pytest.mark.parametrize(("value", "want"), [(None, True), ("1", True), ("0", False),
                                             ("no", False)])
def test_channels_last_follows_the_environment(monkeypatch: pytest.MonkeyPatch,
                                               value: str | None, want: bool) -> None:
    if value is None:
        monkeypatch.delenv("AUTOSNN_CHANNELS_LAST", raising=False)
    else:
        monkeypatch.setenv("AUTOSNN_CHANNELS_LAST", value)
    assert runtime.channels_last_default() is want
    assert runtime.configure("cpu", "fp32", compile_neurons=False).channels_last is want


def test_compiled_plif_forward_on_cpu_equals_the_eager_loop_bit_for_bit() -> None:
    """The search evaluates candidates with the compiled neuron loop (make_evaluator) and
    relies on it giving the eager loop's spikes and membrane values exactly, so a search's
    results do not depend on whether compilation is on."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 10_007, generator=g) * 1.5 + 0.6  # odd M: vector body and tail
    expected = {kv: _forward_loop(x, torch.tensor(kv)) for kv in (0.3, 0.5, 0.999)}
    try:
        assert set_compiled(True), "torch.compile unavailable"
        from autosnn.core import neuron

        got = {kv: neuron._fwd(x, torch.tensor(kv)) for kv in expected}
    finally:
        set_compiled(False)
    for kv, (s_ref, h_ref) in expected.items():
        s, h = got[kv]
        assert torch.equal(s, s_ref) and torch.equal(h, h_ref), kv
        assert 0 < s_ref.sum() < s_ref.numel()  # the data makes spikes and silences


# -- CUDA ------------------------------------------------------------------------------------
@pytest.mark.cuda
@needs_cuda
def test_compiled_plif_on_cuda_equals_eager_maths() -> None:
    """The inductor/Triton kernels of the fused PLIF equal the eager loops on the GPU, forward
    and backward (spikes exactly; gradients to fp32 rounding)."""
    g = torch.Generator(device="cuda").manual_seed(0)
    x = torch.randn(8, 4096, device="cuda", generator=g) * 1.5 + 0.6
    k = torch.tensor(0.5, device="cuda")
    grad = torch.randn(8, 4096, device="cuda", generator=g)
    s_ref, h_ref = _forward_loop(x, k)
    gx_ref, gk_ref = _backward_loop(grad, x, h_ref, k)
    try:
        assert set_compiled(True), "torch.compile unavailable"
        from autosnn.core import neuron

        s, h = neuron._fwd(x, k)
        gx, gk = neuron._bwd(grad, x, h, k)
    finally:
        set_compiled(False)
    assert torch.equal(s, s_ref)
    torch.testing.assert_close(h, h_ref, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(gx, gx_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(gk, gk_ref, rtol=1e-5, atol=1e-6)
    assert s_ref.sum() > 0  # the test data makes spikes


@pytest.mark.cuda
@needs_cuda
def test_network_on_cuda_equals_cpu() -> None:
    """One forward of a small network: the GPU path (cuDNN convolutions) gives the CPU's rates."""
    torch.manual_seed(0)
    net = autosnn.build("snn1", "autosnn-lam0.08", 8, 10, (1, 28, 28), 4).eval()
    x = torch.rand(16, 1, 28, 28)
    with torch.no_grad():
        cpu = net(x)
        gpu = net.to("cuda")(x.to("cuda")).cpu()
    # Rates are multiples of 1/T; a rare spike flip at the threshold moves one rate by 1/T.
    assert (cpu - gpu).abs().gt(1e-6).float().mean() < 0.02


@pytest.mark.cuda
@needs_cuda
def test_training_step_on_cuda_runs_with_auto_precision() -> None:
    cfg = runtime.configure("auto", "auto", compile_neurons=False)
    assert cfg.device.type == "cuda"
    net = runtime.prepare_model(autosnn.build_supernet("snn1", 4, 10, (1, 28, 28), 2), cfg)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = runtime.prepare_input(torch.rand(8, 1, 28, 28), cfg)
    with cfg.autocast():
        rates = net(x)
    loss = torch.nn.functional.mse_loss(rates.float(), torch.zeros_like(rates, dtype=torch.float))
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in net.parameters())


def test_plif_multistep_runs_on_the_input_device() -> None:
    x = torch.randn(4, 32)
    assert plif_multistep(x, torch.tensor(0.0)).device == x.device
