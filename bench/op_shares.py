"""Where a profiled piece of work spends its time, by kind of operator: the share in
convolutions (the part a faster convolution, e.g. bf16 on matrix units, can shrink) and the rest
by what it does. Shared by the training-step and the search-evaluation benchmarks."""

from __future__ import annotations

from collections.abc import Callable

# operator-name fragments of the convolution kernels (forward and backward, CPU and CUDA)
CONV_OPS = ("convolution", "conv2d", "cudnn", "mkldnn_conv", "conv_depthwise")
GROUPS = {  # the rest, by what it does
    "neuron (compiled PLIF graphs)": ("compiledfxgraph", "plif", "torch-compiled", "triton"),
    "batch norm": ("batch_norm",),
    "pooling": ("pool",),
    "optimizer (Adam)": ("adam", "foreach", "lerp", "addcdiv", "sqrt"),
}


def op_shares(work: Callable[[], object], device: str, repeats: int = 3) -> dict[str, float]:
    """Self time of ``repeats`` calls of ``work`` under torch.profiler, as shares: convolution,
    the named groups, and the rest (layout copies, fills, casts, dispatch)."""
    from torch.profiler import ProfilerActivity, profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    with profile(activities=acts) as prof:
        for _ in range(repeats):
            work()
    field = "self_device_time_total" if device == "cuda" else "self_cpu_time_total"
    totals: dict[str, float] = {"convolution": 0.0, **{g: 0.0 for g in GROUPS}, "other": 0.0}
    for ev in prof.key_averages():
        t = float(getattr(ev, field, 0.0) or 0.0)
        name = ev.key.lower()
        if any(c in name for c in CONV_OPS):
            totals["convolution"] += t
            continue
        group = next((g for g, keys in GROUPS.items() if any(k in name for k in keys)), "other")
        totals[group] += t
    whole = sum(totals.values()) or 1.0
    return {k: v / whole for k, v in totals.items()}


def shares_line(label: str, shares: dict[str, float]) -> str:
    """Two lines: where the time goes, and the share outside convolutions."""
    parts = ", ".join(f"{k} {100 * v:.1f} %" for k, v in shares.items() if v > 0)
    return (f"{label}, where the time goes (profiled, self time): {parts}\n"
            f"{label}, share outside convolutions: {100 * (1 - shares['convolution']):.1f} %")
