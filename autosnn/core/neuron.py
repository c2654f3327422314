"""The PLIF neuron (Fang et al. 2021) as a fused multi-step kernel, and its spike accounting.

Update per timestep, with ``k = sigmoid(w) = 1/tau``, ``V_reset = 0``, ``V_th = 1``::

    H[t] = V[t-1] + (X[t] - V[t-1]) * k          # charge (decay_input = True)
    S[t] = Heaviside(H[t] - V_th)                 # fires at equality
    V[t] = H[t] * (1 - S[t])                      # hard reset, S detached in the gradient

This is spikingjelly 2.0's ``ParametricLIFNode(init_tau=2, detach_reset=True,
surrogate_function=ATan())`` in multi-step mode; ``tests/test_neuron.py`` checks the equality.
spikingjelly has no fused CPU backend (it loops over T in Python and keeps T autograd graphs),
so we write the forward and the backward as one loop each over ``[T, M]`` tensors and hand the
pair to autograd as a single node. The loops can be compiled once with a dynamic ``M``
(:func:`set_compiled`), which serves every layer shape and batch size.

Neuron state is always fp32, whatever the autocast precision of the convolutions around it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch
from torch import Tensor, nn

from autosnn.core.registry import Registry

V_TH = 1.0
ALPHA = 2.0  # ATan surrogate sharpness


def _forward_loop(x: Tensor, k: Tensor) -> tuple[Tensor, Tensor]:
    """Run the PLIF over time. x: (T, M) fp32; k: () fp32. Returns spikes (T, M), H (T, M)."""
    v = torch.zeros_like(x[0])
    spikes = []
    hs = []
    for t in range(x.shape[0]):
        h = v + (x[t] - v) * k
        s = (h >= V_TH).to(x.dtype)
        v = h * (1.0 - s)
        spikes.append(s)
        hs.append(h)
    return torch.stack(spikes), torch.stack(hs)


def _backward_loop(
    grad_s: Tensor, x: Tensor, h: Tensor, k: Tensor
) -> tuple[Tensor, Tensor]:
    """Backpropagate through time. Returns grad_x (T, M) and grad_k ()."""
    T = x.shape[0]
    grad_v = torch.zeros_like(x[0])
    grad_x = []
    # grad_k sums T*M terms: accumulate in float64 so it does not drift by ~1e-5 (fp32).
    grad_k = torch.zeros((), dtype=torch.float64, device=x.device)
    one = 1.0
    for t in range(T - 1, -1, -1):
        ht = h[t]
        st = (ht >= V_TH).to(x.dtype)
        u = ht - V_TH
        sg = (ALPHA / 2.0) / (1.0 + (math.pi / 2.0 * ALPHA * u) ** 2)
        gh = grad_s[t] * sg + grad_v * (one - st)
        if t > 0:
            v_prev = h[t - 1] * (one - (h[t - 1] >= V_TH).to(x.dtype))
        else:
            v_prev = torch.zeros_like(ht)
        grad_k = grad_k + (gh * (x[t] - v_prev)).sum(dtype=torch.float64)
        grad_x.append(gh * k)
        grad_v = gh * (one - k)
    grad_x.reverse()
    return torch.stack(grad_x), grad_k


_fwd: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]] = _forward_loop
_bwd: Callable[[Tensor, Tensor, Tensor, Tensor], tuple[Tensor, Tensor]] = _backward_loop
_compiled = False


def set_compiled(enabled: bool) -> bool:
    """Use inductor-compiled neuron loops (one kernel for every M) or plain eager loops.

    Compiling costs ~20 s once per process and T, then runs the neuron ~2x faster on CPU.
    Returns whether compilation is active (False when torch.compile is unavailable).
    """
    global _fwd, _bwd, _compiled
    if not enabled:
        _fwd, _bwd, _compiled = _forward_loop, _backward_loop, False
        return False
    try:
        _fwd = torch.compile(_forward_loop, dynamic=True, fullgraph=True)
        _bwd = torch.compile(_backward_loop, dynamic=True, fullgraph=True)
        _compiled = True
    except Exception:  # pragma: no cover - depends on the toolchain
        _fwd, _bwd, _compiled = _forward_loop, _backward_loop, False
    return _compiled


class _PLIFFunction(torch.autograd.Function):
    """Autograd node for the whole T-step PLIF: saves x and H, recomputes the rest."""

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor) -> Tensor:
        k = torch.sigmoid(w.detach().to(x.dtype))
        spikes, h = _fwd(x, k)
        ctx.save_for_backward(x, h, k)
        return spikes

    @staticmethod
    def backward(ctx, grad_s: Tensor) -> tuple[Tensor, Tensor]:
        x, h, k = ctx.saved_tensors
        grad_x, grad_k = _bwd(grad_s.contiguous(), x, h, k)
        k64 = k.double()
        grad_w = (grad_k * k64 * (1.0 - k64)).to(x.dtype)
        return grad_x, grad_w.reshape(())


def plif_multistep(x: Tensor, w: Tensor) -> Tensor:
    """PLIF over time on ``x`` of shape (T, M); returns binary spikes (T, M) in fp32 (float64
    input stays float64, which the equality tests use)."""
    x = (x if x.dtype == torch.float64 else x.float()).contiguous()
    if torch.is_grad_enabled() and (x.requires_grad or w.requires_grad):
        return _PLIFFunction.apply(x, w)
    return _fwd(x, torch.sigmoid(w.detach().to(x.dtype)))[0]


# The number of timesteps folded into the batch dimension of the tensors being processed. The
# caller that knows it (``SpikingNet``'s stem/segment/head steps) sets it for the duration of a
# call with :func:`timesteps`; layers read it, so no module holds T as state.
_TIMESTEPS: ContextVar[int] = ContextVar("timesteps", default=1)


@contextmanager
def timesteps(T: int) -> Iterator[None]:
    """Run the enclosed forward calls on time-folded ``(T*N, ...)`` tensors."""
    if T < 1:
        raise ValueError(f"timesteps must be >= 1, got {T}")
    token = _TIMESTEPS.set(int(T))
    try:
        yield
    finally:
        _TIMESTEPS.reset(token)


def current_timesteps() -> int:
    """T of the enclosing :func:`timesteps` block (1 outside any)."""
    return _TIMESTEPS.get()


# Whether spiking layers also count their spikes per timestep (``spikes_per_step``): the search
# turns it on so each candidate's per-layer, per-timestep activity comes out of the same pass
# that measures its accuracy.
_PER_STEP: ContextVar[bool] = ContextVar("per_step_spikes", default=False)


@contextmanager
def per_step_spikes() -> Iterator[None]:
    """Within the block, every spiking layer's forward also sets ``spikes_per_step`` (T,)."""
    token = _PER_STEP.set(True)
    try:
        yield
    finally:
        _PER_STEP.reset(token)


class SpikingLayer(nn.Module):
    """Base of every module that emits spikes, so counting is one mechanism.

    Forward inputs/outputs are time-folded ``(T*N, ...)`` with T from :func:`timesteps`. After
    each forward, ``spikes`` holds the layer's total spike count divided by N (spikes per sample,
    summed over T and neurons) as a 0-dim tensor; with ``record_activity`` on, ``activity``
    accumulates per-neuron counts per timestep ``(T, *neuron_shape)`` summed over samples, and
    ``activity_samples`` the number of samples seen.
    """

    counts_spikes = True

    def __init__(self) -> None:
        super().__init__()
        self.spikes: Tensor | None = None
        self.spikes_per_step: Tensor | None = None  # (T,), under per_step_spikes()
        self.record_activity = False
        self.activity: Tensor | None = None
        self.activity_samples = 0
        self.keep_output = False  # keep the differentiable output (spike regularisation)
        self.last_output: Tensor | None = None

    def _account(self, out: Tensor) -> None:
        if not self.counts_spikes:
            return
        T = current_timesteps()
        n = out.shape[0] // T
        if _PER_STEP.get():  # per-step sums are exact integers: their sum is the total
            steps = out.detach().float().reshape(T, -1).sum(1)
            self.spikes_per_step = steps / n
            self.spikes = steps.sum() / n
        else:
            self.spikes = out.detach().float().sum() / n
        if self.keep_output:
            self.last_output = out
        if self.record_activity:
            per_step = out.detach().float().reshape(T, n, *out.shape[1:]).sum(1)  # (T, ...)
            if self.activity is not None and self.activity.shape != per_step.shape:
                raise ValueError(
                    f"activity recorded with T={self.activity.shape[0]}, now T={T}: reset first"
                )
            self.activity = per_step if self.activity is None else self.activity + per_step
            self.activity_samples += n

    def reset_activity(self) -> None:
        """Forget accumulated per-neuron counts."""
        self.activity = None
        self.activity_samples = 0


class PLIF(SpikingLayer):
    """Parametric LIF neuron layer: one trainable scalar ``w`` (tau = 1 + exp(-w)), V_th = 1."""

    def __init__(self, init_tau: float = 2.0) -> None:
        super().__init__()
        if init_tau <= 1.0:
            raise ValueError(f"init_tau must be > 1, got {init_tau}")
        self.w = nn.Parameter(torch.tensor(-math.log(init_tau - 1.0)))

    @property
    def tau(self) -> float:
        """Membrane time constant in timesteps."""
        return float(1.0 / torch.sigmoid(self.w.detach()))

    def forward(self, x: Tensor) -> Tensor:  # (T*N, ...) -> (T*N, ...)
        T = current_timesteps()
        shape = x.shape
        if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not (
            x.is_contiguous()
        ):
            # Flatten in memory order so no copy is made; the neuron is element-wise.
            flat = x.permute(0, 2, 3, 1).reshape(T, -1)
            s = plif_multistep(flat, self.w)
            n, c, hh, ww = shape
            out = s.reshape(n, hh, ww, c).permute(0, 3, 1, 2)
        else:
            out = plif_multistep(x.reshape(T, -1), self.w).reshape(shape)
        self._account(out)
        return out

    def extra_repr(self) -> str:
        return f"tau={self.tau:.3f}"


class ReLUNeuron(SpikingLayer):
    """ANN stand-in for PLIF (ReLU), for the ANN-space ablation; it emits no spikes."""

    counts_spikes = False

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(x)


# Neuron kinds by name: ``plif`` (the paper's) and ``relu`` (the ANN variant of a space).
NEURONS: Registry[Callable[[], SpikingLayer]] = Registry("neuron")
NEURONS.add("plif", PLIF)
# The neuron every builder, block and layer uses unless told otherwise.
DEFAULT_NEURON = "plif"
NEURONS.add("relu", ReLUNeuron)


def make_neuron(kind: str) -> SpikingLayer:
    """A fresh neuron layer of a registered kind."""
    return NEURONS.get(kind)()
