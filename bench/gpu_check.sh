#!/usr/bin/env bash
# One-GPU check of autosnn's CUDA path, in under 8 minutes on one GPU:
#   1. the tests marked `cuda` (compiled PLIF kernels on CUDA equal the eager maths, network
#      CPU vs GPU, a training step with --precision auto),
#   2. bench/forward.py --device cuda: ours vs the per-timestep loop and vs spikingjelly's
#      multi-step PLIF (its auto-dispatched CUDA/Triton kernel), fp32 and bf16,
#   3. one quick super-network epoch on the GPU in fp32 and in --precision auto, with timings.
#
# Usage (from the repository root):  bash bench/gpu_check.sh [OUT_DIR]
#   PYTHON=/path/to/python  a Python whose torch is a CUDA build (default .venv/bin/python)
#   AUTOSNN_DATA_DIR / the Debian path: Fashion-MNIST; without it the epoch runs on synthetic data.
# Everything printed is also written to OUT_DIR/gpu_check.log (default /tmp/gpu_check).
set -u -o pipefail

OUT=${1:-${OUT:-/tmp/gpu_check}}
PY=${PYTHON:-.venv/bin/python}
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
: > "$LOG"
say() { echo "$@" | tee -a "$LOG"; }
run() {  # run LIMIT_S CMD...: time-boxed, output to the log, rc reported
    local limit=$1; shift
    say "\$ $*"
    local t0=$SECONDS
    timeout "$limit" "$@" 2>&1 | tee -a "$LOG"
    local rc=${PIPESTATUS[0]}
    say "-> rc $rc in $((SECONDS - t0)) s"
    return 0
}

say "== gpu_check $(date -u +%FT%TZ) =="
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version \
    --format=csv,noheader 2>&1 | tee -a "$LOG"
if ! "$PY" - <<'EOF' 2>&1 | tee -a "$LOG"; then
import sys
import torch
print(f"torch {torch.__version__}, CUDA build {torch.version.cuda}, "
      f"available {torch.cuda.is_available()}")
if not torch.cuda.is_available():
    sys.exit("no usable CUDA device for this torch (a +cpu build?): set PYTHON to a CUDA build")
p = torch.cuda.get_device_properties(0)
print(f"device {p.name}, {p.total_memory / 2**30:.0f} GiB, capability {p.major}.{p.minor}, "
      f"bf16 {torch.cuda.is_bf16_supported()}")
try:
    import triton
    print(f"triton {triton.__version__}")
except ImportError:
    print("triton missing: torch.compile cannot build CUDA kernels (eager neuron used)")
EOF
    say "gpu_check: stopped, no CUDA"
    exit 2
fi

export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}
say "== 1. tests marked cuda =="
run 120 env AUTOSNN_COMPILE=0 "$PY" -m pytest -q -p no:cacheprovider -m cuda tests/test_runtime.py

say "== 2. bench/forward.py --device cuda (one training step, batch 96, C=16, T=8) =="
run 100 "$PY" -m bench.forward --device cuda --reps 10 --precision fp32
run 100 "$PY" -m bench.forward --device cuda --reps 10 --precision bf16

say "== 3. one quick super-network epoch on the GPU =="
DATA=(--preset quick --epochs 1)
if [ -d "${AUTOSNN_DATA_DIR:-/usr/share/datasets/fashion-mnist}" ]; then
    DATA+=(--data-dir "${AUTOSNN_DATA_DIR:-/usr/share/datasets/fashion-mnist}")
else
    say "(no Fashion-MNIST folder: synthetic data, 6000 samples)"
    DATA+=(--dataset synthetic --limit 6000)
fi
for prec in fp32 auto; do
    run 75 "$PY" -m autosnn supernet "${DATA[@]}" --device cuda --precision "$prec" \
        --out "$OUT/supernet-$prec"
    [ -f "$OUT/supernet-$prec/supernet-timing.json" ] && \
        say "timing ($prec): $(cat "$OUT/supernet-$prec/supernet-timing.json" | tr -d '\n ')"
done
say "== done $(date -u +%FT%TZ); log: $LOG =="
