"""``autosnn export NET.pt --to nir|onnx|lava [-o PATH] [--verify]``: a checkpoint to another format.

The checkpoint is loaded with ``weights_only=True`` (:func:`autosnn.load`), so a file carrying
pickled code is refused before anything in it runs. Targets come from the exporter registry. The
preprocessing record (how raw samples become the network's input) is taken from the checkpoint
(or rebuilt from the dataset it names, or from ``--dataset``) and written into the export's
metadata; without one the export is refused unless ``--allow-unknown-preprocess``. ``--verify``
runs the written file in every installed consumer of its format on real test images (when the data
set is present; synthetic input otherwise, and the output says so), prepared with only the
recorded preprocessing, and exits 1 when a consumer's class agreement is below its threshold.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

import typer

from autosnn.app.cli.app import app
from autosnn.app.cli.common import choices, finite_in, seed_option
from autosnn.core.errors import AutosnnError
from autosnn.core.stats import wilson
from exporters import list_exporters

if TYPE_CHECKING:  # for the type checker a StrEnum; at run time its members are the registry's
    Target: TypeAlias = StrEnum
else:
    Target = choices("Target", list_exporters())
# --verify sample counts: 500 test images, so that "99 % agree" means something (its 95 %
# interval is then about 97.7-99.6 %, printed beside it); Lava's CPU simulation takes about 1 s
# per timestep on a 2-core machine (T steps per image), so it checks 20 unless told otherwise
# (its interval says how little 20 images show).
DEFAULT_VERIFY_SAMPLES = {"lava": 20}
VERIFY_SAMPLES = 500
MAX_VERIFY_SAMPLES = 100_000


def verification_input(net: Any, record: dict | None, n: int, data_dir: str | None,
                       seed: int = 0) -> tuple[Any, Any, str]:
    """``(x, labels or None, label)``: the first ``n`` test images of the recorded data set,
    prepared with only the record (:func:`autosnn.data.preprocess.apply_preprocess`), or
    synthetic input when the data set is not present."""
    from autosnn.data.preprocess import apply_preprocess
    from autosnn.data.registry import load_dataset
    from exporters.verify import random_input

    why = "no preprocessing record"
    if record is not None:
        try:
            splits = load_dataset(record["dataset"], data_dir, limit=n)
        except AutosnnError as exc:
            why = f"{record['dataset']} not found ({str(exc).splitlines()[0][:80]}...)"
        else:
            if splits.info.synthetic:
                why = f"{record['dataset']} is a synthetic data set"
            raw = splits.test.inputs[:n]
            x = apply_preprocess(record, raw)
            label = (f"{len(raw)} {record['dataset']} test images, prepared from the recorded "
                     "preprocessing only")
            if splits.info.synthetic:
                label = f"SYNTHETIC: {len(raw)} samples of {record['dataset']}"
            return x, splits.test.labels[:n], label
    return (random_input(net, min(n, 8), seed=seed), None,
            f"SYNTHETIC random input ({min(n, 8)} samples): {why}")


def plot_checks(checks: list, path: Path, title: str, inputs: tuple[Path, ...]) -> Path:
    """Per-layer cosine (and Lava's spike mismatch) per consumer as a PNG, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from safeio import atomic_path

    ran = [c for c in checks if not c.skipped and c.cosine]
    layers = list(dict.fromkeys(name for c in ran for name in c.cosine))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(layers) + 2), 4.2))
    for c in ran:
        ax.plot(range(len(layers)), [c.cosine.get(n, float("nan")) for n in layers], "o-",
                label=f"{c.consumer}: classes {100 * c.class_agreement:.1f}% agree")
        if c.mismatch:
            ax.plot(range(len(layers)), [1 - c.mismatch.get(n, float("nan")) for n in layers],
                    "x--", label=f"{c.consumer}: 1 - spike mismatch")
    ax.set_xticks(range(len(layers)), layers, rotation=70, ha="right", fontsize=7)
    ax.set_ylabel("cosine of time-averaged spikes vs PyTorch")
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    with atomic_path(path, inputs=inputs) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return path


def _preprocess_record(net, checkpoint: Path, dataset: str | None,
                       allow_unknown_preprocess: bool) -> dict | None:
    """How the export's inputs are prepared: from ``--dataset``, else the checkpoint's own record;
    a missing record is an error unless explicitly allowed (then a warning)."""
    from autosnn.data.preprocess import preprocess_from_extra, preprocessing_meta
    from autosnn.data.registry import get_spec

    if dataset is not None:
        record: dict | None = preprocessing_meta(get_spec(dataset).info)
    else:
        record = preprocess_from_extra(getattr(net, "extra", {}))
    if record is None:
        msg = (f"{checkpoint}: field extra.preprocess: the checkpoint does not record how inputs "
               "are prepared (normalisation, encoding, dataset)")
        if not allow_unknown_preprocess:
            raise AutosnnError(msg + "; name the data set with --dataset, or pass "
                               "--allow-unknown-preprocess")
        print(f"WARNING: {msg}; the export says 'preprocess unknown' and other tools will feed "
              "it wrong inputs", file=sys.stderr)
    elif tuple(record["input_shape"]) != tuple(net.config.input_shape):
        raise AutosnnError(f"{checkpoint}: the network takes {tuple(net.config.input_shape)}, "
                           f"data set {record['dataset']} gives {tuple(record['input_shape'])}")
    return record


def _check_lines(checks: list, samples: int) -> tuple[list[str], bool]:
    """The verification report: per consumer its class agreement and per-layer cosines."""
    lines, ok = [], True
    for check in checks:
        if check.skipped:
            lines.append(f"  {check.consumer}: skipped ({check.skipped})")
            continue
        verdict = "ok" if check.passed else "BELOW THRESHOLD"
        lo, hi = wilson(round(check.class_agreement * samples), samples)
        lines.append(f"  {check.consumer}: class agreement with PyTorch "
                     f"{100 * check.class_agreement:.1f}% of {samples} images (95 % interval "
                     f"{100 * lo:.1f}-{100 * hi:.1f}%; threshold "
                     f"{100 * check.threshold:.0f}%) {verdict}"
                     + (f"; {check.note}" if check.note else ""))
        if check.cosine:
            worst = min(check.cosine, key=check.cosine.get)
            lines.append(f"    per-layer cosine of time-averaged spikes: min "
                         f"{check.cosine[worst]:.4f} ({worst})")
            for name, cos in check.cosine.items():
                extra = (f"  spike mismatch {check.mismatch[name]:.4f}"
                         if name in check.mismatch else "")
                lines.append(f"      {name}: {cos:.4f}{extra}")
        ok = ok and check.passed
    return lines, ok


def export_checkpoint(
    *,
    checkpoint: Path,
    target: str,
    output: Path | None = None,
    compat: str | None = None,
    dt: float | None = None,
    geq_threshold: bool = False,
    dataset: str | None = None,
    allow_unknown_preprocess: bool = False,
    verify: bool = False,
    verify_samples: int | None = None,
    data_dir: str | None = None,
    seed: int = 0,
    plot: Path | None = None,
) -> tuple[Path, list[str], bool]:
    """Load ``checkpoint`` safely and export it; returns (path written, report lines, whether
    every verification passed)."""
    import autosnn
    from exporters import export, get_exporter
    from safeio import check_outputs

    exp = get_exporter(target)  # unknown targets fail before the checkpoint is read
    if verify_samples is None:
        verify_samples = DEFAULT_VERIFY_SAMPLES.get(target, VERIFY_SAMPLES)
    if verify_samples < 1:
        raise AutosnnError(f"--verify-samples {verify_samples}: expected >= 1")
    net = autosnn.load(checkpoint)
    record = _preprocess_record(net, checkpoint, dataset, allow_unknown_preprocess)
    out = output if output is not None else Path(checkpoint).with_suffix(exp.suffix)
    check_outputs([out, plot], inputs=[checkpoint], create_folders=True)
    path = export(net, target, out, preprocess=record, inputs=(checkpoint,), compat=compat,
                  dt=dt, geq_threshold=geq_threshold or None)
    head = f"wrote {path} ({target}"
    if compat:
        head += f", compat={compat}"
    if record is not None:
        head += f"; inputs: {record['dataset']}, {record['recipe']}"
    lines = [head + ")"]
    if not verify:
        return path, lines, True
    x, _, label = verification_input(net, record, verify_samples, data_dir, seed)
    lines.append(f"verify on {label}:")
    checks = exp.verify(net, path, x)
    if plot is not None:
        plot_checks(checks, plot, f"{path.name} ({target}) on {label}", (Path(checkpoint), path))
        lines.append(f"wrote {plot}")
    check_lines, ok = _check_lines(checks, x.shape[1] if x.dim() == 5 else x.shape[0])
    return path, lines + check_lines, ok


@app.command("export")
def export_cmd(
    checkpoint: Annotated[Path, typer.Argument(help="autosnn checkpoint (.pt) to export")],
    to: Annotated[
        Target, typer.Option("--to", help="target format")
    ] = Target("nir"),
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="output file (default: NET with .nir/.onnx/.h5); "
                     "never the checkpoint itself"),
    ] = None,
    compat: Annotated[
        str | None,
        typer.Option(help="NIR only: portable (default: spikingjelly, norse and our runner load "
                     "it), strict (Threshold nodes, fires exactly at H >= 1), nir, norse, "
                     "spikingjelly"),
    ] = None,
    dt: Annotated[
        float | None, typer.Option(callback=finite_in(0.0, 1.0, low_open=True),
                                   help="NIR only: Euler step dt in seconds, in (0, 1] "
                                   "(default 1e-4)")
    ] = None,
    geq_threshold: Annotated[
        bool,
        typer.Option(help="NIR only: v_threshold = float32 just below 1, so strict consumers "
                     "fire exactly at H >= 1 like autosnn (not for spikingjelly)"),
    ] = False,
    dataset: Annotated[
        str | None,
        typer.Option(help="data set the network was trained on, for checkpoints that do not "
                     "record their preprocessing"),
    ] = None,
    allow_unknown_preprocess: Annotated[
        bool, typer.Option(help="export even when the preprocessing is unknown (warns)")
    ] = False,
    verify: Annotated[
        bool, typer.Option(help="run the written file in every installed consumer on test "
                           "images and compare with PyTorch; exit 1 below the threshold")
    ] = False,
    verify_samples: Annotated[
        int | None, typer.Option(min=1, max=MAX_VERIFY_SAMPLES,
                                 help=f"test images for --verify (default {VERIFY_SAMPLES}; Lava "
                                 "20, its CPU simulation takes about 1 s per timestep)")
    ] = None,
    data_dir: Annotated[
        str | None, typer.Option(help="data folder for --verify (default: $AUTOSNN_DATA)")
    ] = None,
    seed: Annotated[int, seed_option("seed of the synthetic --verify input, 0-2^32-1")] = 0,
    plot: Annotated[
        Path | None, typer.Option(help="with --verify: PNG of per-layer agreement per consumer")
    ] = None,
) -> None:
    """Export a trained network to NIR, ONNX (single timestep) or Lava (Loihi 2)."""
    if not verify:
        ignored = [o for o, v in (("--verify-samples", verify_samples), ("--plot", plot))
                   if v is not None]
        if ignored:
            raise AutosnnError(f"{', '.join(ignored)} only with --verify")
    _, lines, ok = export_checkpoint(
        checkpoint=checkpoint, target=to.value, output=output, compat=compat, dt=dt,
        geq_threshold=geq_threshold, dataset=dataset,
        allow_unknown_preprocess=allow_unknown_preprocess, verify=verify,
        verify_samples=verify_samples, data_dir=data_dir, seed=seed, plot=plot,
    )
    for line in lines:
        typer.echo(line)
    if not ok:
        raise typer.Exit(1)
