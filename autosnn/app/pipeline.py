"""The four NAS stages as keyword-only library functions (the CLI is a thin layer over these).

- :func:`run_supernet`: build and train the super-network -> ``out/supernet.pt``.
- :func:`run_search`: evolutionary / random search for one or several lambdas -> ``search.json``,
  ``winner-<lambda>.json`` / ``.pt``, ``pareto.png`` (steps in :mod:`autosnn.app.nas_search`).
- :func:`run_train`: retrain a genotype, a zoo model or a winner from scratch -> ``model.pt``.
- :func:`run_eval`: accuracy, spikes per image, per-layer spikes and firing rates (+ activity).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

import autosnn
from autosnn.app.deployed import BudgetCheck
from autosnn.app.nas_search import SearchRequest, load_supernet, run_search
from autosnn.core.config import EVAL_BATCH_SIZE, TrainConfig
from autosnn.core.errors import AutosnnError
from autosnn.core.network import SpikingNet
from autosnn.core.progress import Reporter
from autosnn.core.runtime import ExecConfig, configure, prepare_model, resolve_device
from autosnn.data import DatasetSplits
from autosnn.data.preprocess import preprocessing_meta
from autosnn.data.spec import SPLITS, DataSpec, load_data
from autosnn.train import distributed
from autosnn.train.supernet import SUPERNET_FILE, SupernetResult, train_supernet
from safeio import atomic_write, write_json, write_text

__all__ = ["BudgetCheck", "ModelSpec", "SearchRequest", "load_supernet", "model_from_winner",
           "read_winner", "run_eval", "run_search", "run_supernet", "run_train"]


@dataclass(frozen=True)
class ModelSpec:
    """What to build: a space's super-network / a genotype, or a zoo model."""

    space: str = "snn1"
    channels: int = 16
    timesteps: int | None = None  # None: the dataset's default
    neuron: str = "plif"
    candidates: tuple[str, ...] | None = None
    genotype: str | None = None
    zoo: str | None = None


def _training_setup(
    data: DataSpec, train: TrainConfig, out: Path
) -> tuple[DatasetSplits, ExecConfig]:
    """What both training stages do before building their network: create ``out``, load the
    data, set up the fast training path, join torchrun's process group (if any) and seed the
    weight initialisation (the same on every rank)."""
    out.mkdir(parents=True, exist_ok=True)
    splits = load_data(data)
    exec_cfg = configure(train.device, train.precision)  # the fast training path
    distributed.init(exec_cfg.device)
    torch.manual_seed(train.seed)
    return splits, exec_cfg


def run_supernet(
    *,
    data: DataSpec,
    model: ModelSpec,
    train: TrainConfig,
    out: Path,
    resume: bool = False,
    reporter: Reporter | None = None,
    sync_bn: bool = False,
) -> SupernetResult:
    """Build the super-network of ``model.space`` and train it on D_train (under torchrun: on
    every rank, rank 0 writes; ``sync_bn``: batch norm over the global batch)."""
    reporter = reporter or Reporter(quiet=True)
    if not resume and (out / SUPERNET_FILE).exists():
        reporter.log(f"note: overwriting {out / SUPERNET_FILE}")
    splits, exec_cfg = _training_setup(data, train, out)
    info = splits.info
    # prepare_model returns the module it was given (moved), typed as a plain Module
    net = cast(SpikingNet, prepare_model(autosnn.build_supernet(
        model.space, model.channels, info.num_classes, info.input_shape, info.timesteps,
        candidates=model.candidates, neuron=model.neuron,
    ), exec_cfg))
    reporter.log(
        f"super-network {model.space} C={model.channels} T={info.timesteps} on {info.name}: "
        f"{len(splits.train)} train / {len(splits.val)} val samples, {train.epochs} epochs"
    )
    start = time.perf_counter()
    result = train_supernet(
        net, splits.train, train, out=out, resume=resume,
        extra={"data": data.to_dict(), "dataset": info.name, "preprocess": preprocessing_meta(info)},
        reporter=reporter, sync_bn=sync_bn,
    )
    if distributed.is_main():
        write_json(out / "supernet-timing.json", {"seconds": time.perf_counter() - start,
                                                   "resumed": resume,
                                                   "processes": distributed.info().world})
    reporter.log(f"spikes_avg = {result.spikes_avg:,.0f}; wrote {out / SUPERNET_FILE}")
    return result


# -- search: autosnn.app.nas_search (re-exported here, the stage functions' one import) --------


# -- retraining and evaluation ----------------------------------------------------------------
TRAIN_STATE_FILE = "train-state.pt"
MODEL_FILE = "model.pt"


def read_winner(path: Path) -> dict[str, Any]:
    """The content of a ``winner-<lambda>.json`` (or a winner ``.pt``'s ``extra.winner``)."""
    if not path.is_file():  # a FIFO would block the read forever
        raise AutosnnError(f"{path}: " + ("not a regular file" if path.exists()
                                          else "no such winner file"))
    if path.suffix == ".json":
        try:
            w = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:  # ValueError: also bad UTF-8
            raise AutosnnError(f"{path}: unreadable winner file ({str(exc)[:160]})") from None
    else:
        w = getattr(autosnn.load(path), "extra", {}).get("winner")
        if not w:
            raise AutosnnError(f"{path}: not a winner checkpoint (extra.winner missing)")
    if not isinstance(w, dict):
        raise AutosnnError(f"{path}: expected a JSON object (a winner-<lambda>.json file)")
    return w


def model_from_winner(path: Path) -> ModelSpec:
    """The :class:`ModelSpec` of a ``winner-<lambda>.json`` (or a winner ``.pt``) file."""
    w = read_winner(path)
    from autosnn.core.checkpoint import MAX_CHANNELS, MAX_TIMESTEPS, int_field

    try:
        space, genotype = w["space"], w["genotype"]
        channels = int_field(path, "channels", w["channels"], 1, MAX_CHANNELS)
        timesteps = int_field(path, "timesteps", w["timesteps"], 1, MAX_TIMESTEPS)
    except KeyError as exc:
        raise AutosnnError(f"{path}: field {exc.args[0]} missing") from None
    for field, value in (("space", space), ("genotype", genotype)):
        if not isinstance(value, str) or not value:
            raise AutosnnError(f"{path}: field {field}: expected a non-empty string, got "
                               f"{value!r}"[:300])
    from autosnn.core.spaces import get_space

    try:  # before any data is loaded, and naming the file
        get_space(space).parse(genotype)
    except AutosnnError as exc:
        raise AutosnnError(f"{path}: field space/genotype: {exc}") from None
    from autosnn.core.neuron import DEFAULT_NEURON, NEURONS

    neuron = w.get("neuron", DEFAULT_NEURON)  # files from before the field: the default
    if not isinstance(neuron, str) or neuron not in NEURONS:
        raise AutosnnError(f"{path}: field neuron: expected one of {', '.join(NEURONS.names())}, "
                           f"got {neuron!r}"[:300])
    return ModelSpec(space=space, channels=channels, timesteps=timesteps, genotype=genotype,
                     neuron=neuron)


def build_from_spec(model: ModelSpec, info) -> SpikingNet:
    """A fresh (randomly initialised) network for ``model`` on a dataset described by ``info``."""
    T = model.timesteps or info.timesteps
    if model.zoo is not None:
        return autosnn.build_model(model.zoo, model.channels, info.num_classes, info.input_shape,
                                   T, neuron=model.neuron)
    if model.genotype is None:
        raise AutosnnError("give a genotype (--genotype), a zoo model (--model) or --winner")
    return autosnn.build(model.space, model.genotype, model.channels, info.num_classes,
                         info.input_shape, T, neuron=model.neuron)


def run_train(
    *,
    data: DataSpec,
    model: ModelSpec,
    train: TrainConfig,
    out: Path,
    resume: bool = False,
    reporter: Reporter | None = None,
    sync_bn: bool = False,
    full_train: bool = True,
    budget: BudgetCheck | None = None,
) -> dict:
    """Train an architecture from scratch, evaluate on the test split, write
    ``out/model.pt`` (loadable by ``autosnn.load``/``export``) and ``out/train.json``.
    ``full_train`` (default): on the whole training set, D_train + D_val, as the paper retrains
    (A.1.3); False: on D_train only. Under torchrun every rank trains; rank 0 evaluates and writes.
    ``budget`` (a chip-search winner): the trained network is costed on the winner's chip and,
    over a budget, fine-tuned towards it (:mod:`autosnn.app.deployed`); ``train.json`` records
    both under ``"budget"`` and ``out/report.md`` shows the searched and deployed figures."""
    from autosnn.search.evaluate import evaluate
    from autosnn.train.fit import fit

    reporter = reporter or Reporter(quiet=True)
    data = replace(data, full_train=full_train)
    splits, exec_cfg = _training_setup(data, train, out)
    # prepare_model returns the module it was given (moved), typed as a plain Module
    net = cast(SpikingNet, prepare_model(build_from_spec(model, splits.info), exec_cfg))
    what = model.zoo or f"{model.space}:{model.genotype}"
    reporter.log(f"training {what} C={model.channels} T={net.timesteps} on {splits.info.name}: "
                 f"{len(splits.train)} samples, {train.epochs} epochs, cutout {train.cutout}")
    start = time.perf_counter()
    history = fit(net, splits.train, train, state_path=out / TRAIN_STATE_FILE, resume=resume,
                  fingerprint={"config": net.config.to_json(), "data": data.to_dict()},
                  reporter=reporter, sync_bn=sync_bn)
    train_s = time.perf_counter() - start
    t0 = time.perf_counter()
    result = distributed.broadcast_from_main(
        lambda: evaluate(net, splits.test, batch_size=train.eval_batch_size))
    eval_s = time.perf_counter() - t0
    deployed = None
    if budget is not None and model.genotype is not None:
        deployed, result = _budgeted(budget, net, model, splits, train, reporter, result)
    quantized_acc = None
    chip = train.quantize
    if chip is not None:  # the network the chip runs: its integer forward
        from autosnn.train.quantize import quantized_accuracy

        quantized_acc = distributed.broadcast_from_main(lambda: quantized_accuracy(
            net, chip, splits.test, train.eval_batch_size))
        reporter.log(f"test accuracy through {chip}'s integer forward "
                     f"{100 * quantized_acc:.2f}% (float forward {100 * result.accuracy:.2f}%)")
    summary = {
        "model": what, "config": json.loads(net.config.to_json()), "data": data.to_dict(),
        "train": asdict(train), "history": [asdict(h) for h in history],
        "test_accuracy": result.accuracy, "test_spikes": result.spikes,
        "test_samples": result.samples, "train_seconds": train_s, "eval_seconds": eval_s,
        **({"test_accuracy_quantized": quantized_acc} if quantized_acc is not None else {}),
        **({"budget": deployed} if deployed is not None else {}),
    }
    if distributed.is_main():
        autosnn.save(net, out / MODEL_FILE, extra={k: summary[k] for k in (
            "model", "data", "test_accuracy", "test_spikes", "test_samples")}
            | {"preprocess": preprocessing_meta(splits.info)})
        write_json(out / "train.json", summary)
        if deployed is not None:
            from autosnn.app.deployed_report import deployed_report_md

            write_text(out / "report.md", deployed_report_md(
                deployed, what, result.samples, val_in_training=full_train))
    reporter.log(f"test accuracy {100 * result.accuracy:.2f}%, spikes/img {result.spikes:,.0f} "
                 f"({result.samples} samples); wrote {out / MODEL_FILE}")
    return summary


def _budgeted(budget: BudgetCheck, net: SpikingNet, model: ModelSpec, splits: DatasetSplits,
              train: TrainConfig, reporter: Reporter, result: Any) -> tuple[dict, Any]:
    """The deployed-network budget check (and fine-tuning) after training; the test result
    after it (evaluated again only when the network was fine-tuned)."""
    from autosnn.app.deployed import check_deployed
    from autosnn.search.evaluate import evaluate

    assert model.genotype is not None
    from autosnn.core.spaces import get_space

    genotype = tuple(get_space(model.space).parse(model.genotype))
    record = check_deployed(budget, net, model.space, genotype, splits.train, splits.val, train,
                            reporter)
    before = result
    if record["rounds"]:
        result = distributed.broadcast_from_main(
            lambda: evaluate(net, splits.test, batch_size=train.eval_batch_size))
    record["before"]["test_accuracy"] = before.accuracy
    record["after"]["test_accuracy"] = result.accuracy
    if record["message"]:
        reporter.log(record["message"])
    return record, result


def run_eval(
    *,
    checkpoint: Path,
    data: DataSpec,
    split: str = "test",
    batch_size: int = EVAL_BATCH_SIZE,
    precision: str = "fp32",
    device: str = "cpu",
    activity: Path | None = None,
):
    """Evaluate a checkpoint on a split; optionally save per-neuron spike counts to ``activity``
    (npz: one array per spiking layer, plus ``T`` and ``samples``). Returns an EvalResult."""
    from autosnn.search.evaluate import evaluate

    if split not in SPLITS:
        raise AutosnnError(f"--split {split!r}: expected one of {', '.join(SPLITS)}")
    net = autosnn.load(checkpoint).to(resolve_device(device))
    splits = load_data(data)
    info = splits.info
    if tuple(info.input_shape) != tuple(net.config.input_shape):
        raise AutosnnError(
            f"{checkpoint}: built for inputs {net.config.input_shape}, dataset {info.name} "
            f"has {info.input_shape}"
        )
    result = evaluate(net, getattr(splits, split), batch_size=batch_size, precision=precision,
                      activity=activity is not None)
    if activity is not None:
        activity.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(activity, "wb") as f:  # a full disk keeps the earlier file
            # Any values: numpy's stub has a bool keyword (allow_pickle) that ** could also fill
            arrays: dict[str, Any] = activity_arrays(net, result.timesteps, result.samples)
            np.savez_compressed(f, **arrays)
    return result


def activity_arrays(net: SpikingNet, timesteps: int, samples: int) -> dict[str, np.ndarray]:
    """The ``--activity`` npz that ``hwsim estimate --activity`` reads (after
    ``evaluate(..., activity=True)``): per-neuron spike counts per timestep per sample,
    ``(T, *neuron_shape)``, keyed by NIR node name (the spiking module names, and ``input``),
    plus the scalars ``T`` and ``samples``. Here, not in the search layer: the NIR names are the
    exporters' business, and only the application layer joins the two."""
    from exporters.nir_export import activity_to_nir_names

    out = activity_to_nir_names(net, net.activity())
    out["T"] = np.array(timesteps, dtype=np.int64)
    out["samples"] = np.array(samples, dtype=np.int64)
    return out
