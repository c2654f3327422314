"""Export a winner to NIR and run the file in spikingjelly and norse, next to the PyTorch model.

    python examples/run_in_consumers.py runs/demo/train/model.pt    # or a search's winner-*.pt
    python examples/run_in_consumers.py --tiny                       # SYNTHETIC data, seconds

The inputs are prepared from the .nir file's metadata only (T, input shape, encoding, pixel scale,
padding, mean/std), as a user of the file elsewhere would: the recorded data set's first test
images (Fashion-MNIST when /usr/share/datasets/fashion-mnist is present), or SYNTHETIC images with
--tiny (a tiny network trained briefly on the synthetic data set). Each consumer loads the file
through its own NIR importer: spikingjelly's ``import_from_nir``; norse's node mapping wired in
topological order (``--norse-loader from_nir`` is ``norse.torch.from_nir`` itself, which misorders
a conv shortcut: see docs/exporters.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

import autosnn
from autosnn.core.errors import AutosnnError
from autosnn.data.preprocess import apply_preprocess, preprocess_from_extra
from autosnn.data.registry import load_dataset
from exporters import ExportError, export
from exporters.interop import agreement, model_run, run_norse, run_spikingjelly
from exporters.nir_export import read_nir


def tiny_checkpoint(folder: Path) -> Path:
    """``autosnn train`` in miniature: snn1 C=8 T=4, three epochs on the SYNTHETIC data set
    (enough to predict every class, so agreeing with it says something)."""
    from autosnn.app.pipeline import ModelSpec, run_train
    from autosnn.core.config import TrainConfig
    from autosnn.data.spec import DataSpec

    run_train(data=DataSpec(dataset="synthetic", timesteps=4),
              model=ModelSpec(channels=8, timesteps=4, genotype="autosnn-lam0.08"),
              train=TrainConfig(epochs=3, batch_size=16, lr=3e-3), out=folder)
    return folder / "model.pt"


def inputs_from_metadata(path: Path, n: int) -> tuple[dict, torch.Tensor, torch.Tensor, str]:
    """The first ``n`` test samples of the data set the file names, prepared from its metadata
    alone: ``(metadata, inputs, labels, description)``."""
    meta = read_nir(path).metadata
    if not meta.get("preprocess_known"):
        raise AutosnnError(f"{path}: metadata preprocess_known is false: the file does not say "
                           "how inputs are prepared")
    record = {"encoding": meta["input_encoding"], "input_shape": meta["input_shape"],
              "scale": meta["pixel_scale"], "pad": meta["pad"], "mean": meta["mean"],
              "std": meta["std"]}
    splits = load_dataset(meta["dataset"], limit=n)
    test = splits.test
    what = "SYNTHETIC samples (not a real data set)" if splits.info.synthetic else "test images"
    label = f"{len(test)} {meta['dataset']} {what}"
    return meta, apply_preprocess(record, test.inputs), test.labels, label


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", nargs="?", type=Path, help="model.pt or winner-*.pt")
    ap.add_argument("--tiny", action="store_true", help="train a tiny network on SYNTHETIC data")
    ap.add_argument("-n", "--samples", type=int, default=200, help="test images to run")
    ap.add_argument("-o", "--output", type=Path, help="the .nir file (default: a temp folder)")
    ap.add_argument("--norse-loader", choices=("nir_to_torch", "from_nir"), default="nir_to_torch")
    args = ap.parse_args(argv)
    if (args.checkpoint is None) == (not args.tiny):
        ap.error("give a checkpoint or --tiny (not both)")
    if args.samples < 1:
        ap.error(f"-n/--samples {args.samples}: expected >= 1")
    folder = Path(tempfile.mkdtemp(prefix="autosnn-consumers-"))
    try:
        ckpt = tiny_checkpoint(folder) if args.tiny else args.checkpoint
        net = autosnn.load(ckpt).eval()
        record = preprocess_from_extra(net.extra)  # what `autosnn export` writes into the file
        if record is None:
            raise AutosnnError(f"{ckpt}: field extra.preprocess: missing (the checkpoint does not "
                               "say how inputs are prepared)")
        path = export(net, "nir", args.output or folder / f"{ckpt.stem}.nir", preprocess=record,
                      inputs=(ckpt,))
        meta, x, labels, label = inputs_from_metadata(path, args.samples)
    except (AutosnnError, ExportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    T = int(meta["T"]) if meta["input_encoding"] == "static" else None  # events carry their own T
    names = meta["class_names"] or [str(c) for c in range(int(meta["classes"]))]
    ref = model_run(net, x)  # the PyTorch model: per-step votes (T, N, classes)
    show = 8

    def first(classes: torch.Tensor) -> str:
        return ", ".join(names[int(c)] for c in classes[:show])

    print(f"{path} (T={meta['T']}, {meta['genotype']}) on {label}")
    print(f"  {'labels':<13} first {show}: {first(labels)}")
    predicted = ref.output.mean(0).argmax(-1)
    print(f"  {'pytorch':<13} first {show}: {first(predicted)}; accuracy "
          f"{100 * float((predicted == labels).float().mean()):.1f}%")
    agreements = {}
    for consumer, run in (("spikingjelly", lambda: run_spikingjelly(path, x, T)),
                          ("norse", lambda: run_norse(path, x, T, loader=args.norse_loader))):
        result = run()  # per-step votes (T, N, classes), like the PyTorch model's
        agreements[consumer] = agreement(ref, result).class_agreement
        print(f"  {consumer:<13} first {show}: {first(result.output.mean(0).argmax(-1))}; "
              f"class agreement with PyTorch {100 * agreements[consumer]:.1f}% over "
              f"{len(labels)} inputs")
    return agreements


if __name__ == "__main__":
    main()
