"""Data-pipeline cost vs. the network it feeds: is loading + augmentation < 10 % of a forward pass?

Loads the full Fashion-MNIST training set (Debian's /usr/share/datasets/fashion-mnist unless
--data-dir/$AUTOSNN_DATA says otherwise), produces one epoch of augmented batches of 96 (pad-4 crop,
flip, cutout 16, normalisation), and times a forward pass of the C=16 snn1 AutoSNN network (T=8)
on some of those batches. The data cost per batch = load time spread over one epoch's batches +
the per-batch cost of gathering, converting and augmenting. The ratio is printed last:

    data/forward 0.04x (data 1.2 ms/batch, forward 30 ms/batch)

Run: ``python bench/data.py [--device cuda] [--forward-batches 5] [--threads N]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from autosnn.data import Augment, batches, load_dataset

GENOTYPE = "autosnn-lam0.08"  # AutoSNN (lambda = -0.08), the paper's searched snn1
BATCH = 96


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--forward-batches", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    t0 = time.perf_counter()
    splits = load_dataset("fashion-mnist", args.data_dir, seed=0)
    load_s = time.perf_counter() - t0
    n_train = len(splits.train)
    print(f"load: {n_train} training images in {load_s:.2f} s ({splits.info.source})")

    aug = Augment(crop_pad=4, flip=True, cutout=16)
    kept: list[torch.Tensor] = []
    _sync(device)
    t0 = time.perf_counter()
    n_batches = 0
    for x, _ in batches(splits.train, BATCH, shuffle=True, seed=0, device=device, augment=aug):
        if len(kept) < args.forward_batches + 1:
            kept.append(x)
        n_batches += 1
    _sync(device)
    epoch_s = time.perf_counter() - t0
    augment_ms = 1000 * epoch_s / n_batches
    data_ms = augment_ms + 1000 * load_s / n_batches
    print(f"batches: {n_batches} augmented batches of {BATCH} in {epoch_s:.2f} s "
          f"({augment_ms:.2f} ms/batch; load adds {1000 * load_s / n_batches:.2f} ms/batch)")

    try:
        import autosnn

        model = autosnn.build(space="snn1", genotype=GENOTYPE, channels=16, num_classes=10,
                              input_shape=(1, 32, 32), timesteps=8)
    except (ImportError, AttributeError, TypeError) as exc:
        print(f"forward: network API not available ({exc}); data {data_ms:.2f} ms/batch")
        return
    model = model.to(device).eval()
    with torch.no_grad():
        model(kept[0])  # warm-up (allocations, kernel selection)
        _reset(model)
        step_ms = []
        for x in kept[1:]:  # one timing per batch; the median resists a noisy machine
            _sync(device)
            t0 = time.perf_counter()
            model(x)
            _sync(device)
            step_ms.append(1000 * (time.perf_counter() - t0))
            _reset(model)
    forward_ms = statistics.median(step_ms) if step_ms else float("nan")
    print(f"data/forward {data_ms / forward_ms:.3f}x "
          f"(data {data_ms:.2f} ms/batch, forward {forward_ms:.1f} ms/batch, median of {len(step_ms)})")


def _reset(model: torch.nn.Module) -> None:
    """Clear neuron state between batches if the network keeps it (spikingjelly style)."""
    for module in model.modules():
        reset = getattr(module, "reset", None)
        if callable(reset) and module is not model:
            reset()


if __name__ == "__main__":
    main()
