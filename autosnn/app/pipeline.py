"""The four NAS stages as keyword-only library functions (the CLI is a thin layer over these).

- :func:`run_supernet`: build and train the super-network -> ``out/supernet.pt``.
- :func:`run_search`: evolutionary / random search for one or several lambdas -> ``search.json``,
  ``winner-<lambda>.json`` / ``.pt``, ``pareto.png``.
- :func:`run_train`: retrain a genotype, a zoo model or a winner from scratch -> ``model.pt``.
- :func:`run_eval`: accuracy, spikes per image, per-layer spikes and firing rates (+ activity).
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TypedDict, cast

import torch

import autosnn
from autosnn.app.chipcost import UNITS, Budgets, ChipCost, ChipTarget, chip_path
from autosnn.app.report import chip_outputs
from autosnn.core.config import EVAL_BATCH_SIZE, PAPER, SearchConfig, TrainConfig, override
from autosnn.core.errors import AutosnnError
from autosnn.core.network import SpikingNet
from autosnn.core.progress import Reporter
from autosnn.core.runtime import ExecConfig, configure, prepare_model, resolve_device
from autosnn.core.spaces import genotype_text
from autosnn.data import DatasetSplits
from autosnn.data.preprocess import preprocess_from_extra, preprocessing_meta
from autosnn.data.spec import SPLITS, DataSpec, load_data
from autosnn.search.select import SweepPoint, choose_lambda
from autosnn.train import distributed
from autosnn.train.supernet import SUPERNET_FILE, SupernetResult, train_supernet
from safeio import atomic_write, write_json

# Random architectures drawn for the chip's reference cost before giving up (rejected ones
# cost a structural check each, not an evaluation).
REFERENCE_DRAWS = 4000

# search.json's "chosen": the lambda picked for the chip and why ("lambda" is a keyword, hence
# the functional form)
ChosenLambda = TypedDict("ChosenLambda", {"lambda": float, "key": str, "reason": str})


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


# -- search -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchRequest:
    """One search invocation: lambdas (all on the same super-network; empty with a chip = the
    preset's lambda grid, and the lambda is chosen per chip), fitness form, Algorithm 1 settings,
    seed, how candidates are evaluated (batch size, precision), and an optional chip target."""

    lambdas: tuple[float, ...] = PAPER.lambdas
    fitness: str = PAPER.fitness
    config: SearchConfig = SearchConfig()
    seed: int = 0
    eval_batch_size: int = EVAL_BATCH_SIZE
    precision: str = "fp32"
    device: str = "cpu"
    val_limit: int | None = None  # overrides the super-network's recorded D_val cap
    data_dir: str | None = None  # overrides the super-network's recorded data folder
    expect: dict | None = None  # space/channels/timesteps/dataset the user named: must match
    chip: str | None = None  # optimise a cost on this chip profile (hwsim) instead of spikes
    chip_metric: str = "energy"
    budgets: Budgets = Budgets()
    lambda_auto: bool = False  # sweep ``lambdas`` and choose one for the chip


def load_supernet(path: Path) -> tuple[SpikingNet, dict]:
    """Load a super-network checkpoint written by :func:`run_supernet` and its ``extra``."""
    net = autosnn.load(path)
    if net.config.kind != "supernet":
        raise AutosnnError(f"{path}: not a super-network checkpoint (kind {net.config.kind!r})")
    extra = getattr(net, "extra", {})
    if "spikes_avg" not in extra or "data" not in extra:
        raise AutosnnError(f"{path}: field extra: missing spikes_avg/data (not from autosnn supernet)")
    return net, extra


def run_search(
    *,
    supernet: Path,
    request: SearchRequest,
    out: Path,
    resume: bool = False,
    reporter: Reporter | None = None,
) -> dict:
    """Search the super-network for each lambda; write search.json, winners and pareto.png, and
    with a chip: sweep.json, the chosen winner's NIR file and hwsim report, and report.md.

    Returns the ``search.json`` content.
    """
    from autosnn.search.evaluate import eval_batches
    from autosnn.search.fitness import accuracy_fitness, lambda_key, make_fitness, spike_cost
    from autosnn.search.lambdas import STATE_FILE, search_lambdas
    from autosnn.search.outputs import entry, extract_winner, plot_pareto
    from autosnn.search.ranks import RankSplitEvaluator
    from autosnn.search.shared_eval import SharedPrefixEvaluator

    reporter = reporter or Reporter(quiet=True)
    out.mkdir(parents=True, exist_ok=True)
    net, extra = load_supernet(supernet)
    device = resolve_device(request.device)
    net = net.to(device)
    data = override(DataSpec.from_dict(extra["data"]), val_limit=request.val_limit,
                    data_dir=request.data_dir)
    have = {"space": net.config.name, "channels": net.config.channels,
            "timesteps": net.config.timesteps, "dataset": extra.get("dataset")}
    for key, want in (request.expect or {}).items():
        if want != have[key]:
            raise AutosnnError(
                f"{supernet}: the super-network was trained with {key} {have[key]!r}, not "
                f"{want!r}; the search uses the super-network's settings"
            )
    splits = load_data(data)
    spikes_avg = float(extra["spikes_avg"])
    ann = net.config.neuron != "plif"
    lambdas = tuple(dict.fromkeys(request.lambdas))
    if ann and any(lam != 0 for lam in lambdas):
        raise AutosnnError("the ANN variant (neuron relu) has no spikes: search it with --lambda 0")
    if ann and request.chip:
        raise AutosnnError("--chip needs a spiking super-network (this one is the ANN variant)")

    space = net.search_space()
    batches_ = eval_batches(splits.val, request.eval_batch_size, device)
    # under torchrun every rank evaluates its share of each round's candidates
    evaluator = RankSplitEvaluator(SharedPrefixEvaluator(net, batches_, request.precision),
                                   distributed.init(device))

    # The fitness, built in one place: a cost (spikes, or a chip metric) and a form.
    chip_model: ChipCost | None = None
    cost, cost_ref, cost_name = spike_cost, spikes_avg, "spikes per image"
    if request.chip:
        chip_model = ChipCost(
            ChipTarget(chip_path(request.chip), request.chip_metric, budgets=request.budgets),
            space=space, channels=net.config.channels, num_classes=net.config.num_classes,
            input_shape=net.config.input_shape, timesteps=net.config.timesteps,
        )
        # Cost_ref: mean cost of seeded random architectures that map onto the chip (drawn 8 at
        # a time until one is feasible within the budgets, at most 64 evaluated; on a chip
        # whose rules exclude many blocks, e.g. TrueNorth's 256 axons, few map at all).
        rng = random.Random(request.seed)
        drawn: set = set()
        sample: list = []
        evaluated: list = []
        while len(sample) < 64 and len(drawn) < min(space.size, REFERENCE_DRAWS):
            batch = [g for g in dict.fromkeys(space.sample(rng) for _ in range(8))
                     if g not in drawn]
            drawn.update(batch)
            batch = [g for g in batch if chip_model.admissible(g)]
            sample += batch
            evaluated += evaluator(batch) if batch else []
            if any(chip_model.binding(e) is None for e in evaluated):
                break
        if not sample:
            common = Counter(chip_model.rejected.values()).most_common(1)
            why = f"{common[0][1]} of them: {common[0][0]}" if common else "none drawn"
            raise AutosnnError(
                f"chip {chip_model.profile.name}: none of {len(drawn)} random architectures of "
                f"{space.name} maps onto it ({why}); try fewer channels (see `hwsim fit`), a "
                "board profile, or looser budgets"
            )
        budgets = chip_model.budgets
        if budgets.from_profile:
            reporter.log(f"budgets from the search: section of {budgets.profile} (options "
                         "override them): " + ", ".join(
                             f"{n} {v:g}" for n, v in budgets.to_dict().items()
                             if n in budgets.from_profile))
        cost, cost_name = chip_model.cost, f"{request.chip_metric} ({UNITS[request.chip_metric]})"
        cost_ref = chip_model.reference_cost(evaluated)
        reporter.log(f"chip {chip_model.profile.name}: mean {cost_name} of {len(sample)} sampled "
                     f"architectures (measured activity): {cost_ref:.4g}")

    def fitness_for(lam: float):
        if ann:
            return accuracy_fitness()
        return make_fitness(request.fitness, lam, cost_ref, cost)

    fingerprint = json.dumps({
        "supernet": net.config.to_json(), "spikes_avg": spikes_avg, "data": data.to_dict(),
        "fitness": request.fitness, "search": asdict(request.config), "seed": request.seed,
        "lambdas": list(lambdas), "precision": request.precision,
        "batch": request.eval_batch_size, "chip": request.chip, "chip_metric": request.chip_metric,
        **({"budgets": chip_model.budgets.to_dict()} if chip_model is not None else {}),
    }, sort_keys=True)
    reporter.log(
        f"{request.config.method} search over {space.size:,} architectures of {net.config.name}, "
        f"lambdas {', '.join(lambda_key(x) for x in lambdas)}, {len(splits.val)} D_val samples, "
        f"Spikes_avg {spikes_avg:,.0f}"
    )
    result = search_lambdas(
        space, evaluator, fitness_for, lambdas, request.config, seed=request.seed,
        state_path=out / STATE_FILE, resume=resume, fingerprint=fingerprint, reporter=reporter,
        admissible=chip_model.admissible if chip_model is not None else None,
    )
    if any(not s.top for s in result.states.values()):  # every candidate drawn was rejected
        raise AutosnnError(f"no architecture the search drew maps onto the chip ({request.chip})")
    if chip_model is not None and chip_model.rejected:
        reporter.log(f"{len(chip_model.rejected)} architectures rejected before evaluation: "
                     f"they cannot map onto {chip_model.profile.name}")
    fits = {lambda_key(lam): fitness_for(lam) for lam in lambdas}
    rounds = {k: dict(s.evaluated) for k, s in result.states.items()}
    entries = []
    for e in result.evaluations:
        d = entry(e.genotype, e.accuracy, e.spikes)
        d["round"] = next(rounds[k][e.genotype] for k in fits if e.genotype in rounds[k])
        d["rounds"] = {k: rounds[k][e.genotype] for k in fits if e.genotype in rounds[k]}
        d["fitness"] = {k: _finite(f(e)) for k, f in fits.items()}
        if chip_model is not None:
            d["cost"] = _finite(chip_model.cost(e))
            d["feasible"] = chip_model.binding(e) is None
            d["binding"] = chip_model.binding(e)
        entries.append(d)
    by_geno = {e.genotype: e for e in result.evaluations}
    winners: dict[str, dict] = {}
    points: list[SweepPoint] = []
    for lam in lambdas:
        key = lambda_key(lam)
        e = by_geno[result.states[key].top[0]]
        winners[key] = {
            "lambda": lam, "genotype": genotype_text(e.genotype), "accuracy": e.accuracy,
            "spikes": e.spikes, "fitness": _finite(fits[key](e)), "space": net.config.name,
            "channels": net.config.channels, "timesteps": net.config.timesteps,
            "neuron": "plif", "checkpoint": f"winner-{key}.pt",
        }
        if chip_model is not None:
            winners[key]["chip"] = chip_model.summary(e)
            points.append(SweepPoint(key, lam, e.accuracy, chip_model.cost(e),
                                     chip_model.binding(e)))
    chosen: ChosenLambda | None = None
    if chip_model is not None:
        try:
            point, why = choose_lambda(points, budgets=chip_model.budgets.active)
        except AutosnnError:
            if request.lambda_auto or len(points) == 1:
                raise
            point, why = points[0], "infeasible"  # explicit lambdas: report, keep the files
        if not request.lambda_auto and len(points) > 1:
            why = "lambdas given explicitly; " + why
        chosen = {"lambda": point.lam, "key": point.key, "reason": why}
    doc = {
        "space": net.config.name, "candidates": list(space.candidates),
        "supernet": {"config": json.loads(net.config.to_json()), "spikes_avg": spikes_avg},
        "data": data.to_dict(), "dataset": extra.get("dataset"),
        "search": asdict(request.config),
        "fitness": {"form": "accuracy" if ann else request.fitness, "cost": cost_name,
                    "cost_ref": cost_ref},
        "ann_variant": ann, "seed": request.seed, "lambdas": list(lambdas),
        "evaluated": len(entries), "precision": request.precision,
        "candidates_evaluated": entries, "winners": winners,
        "chip": None if chip_model is None else {
            "profile": chip_model.profile.name, "metric": request.chip_metric,
            "reference_cost": cost_ref, "budgets": chip_model.budgets.to_dict(),
            # where each budget came from: "profile" (its search: section), "cli", None (unset)
            "budget_origins": chip_model.budgets.origins(),
            "budget_profile": chip_model.budgets.profile, "chosen": chosen,
            "rejected_before_evaluation": chip_model.rejections(),
            "reference_sample": len(sample),
        },
    }
    if not distributed.is_main():  # rank 0 writes every output
        return doc
    write_json(out / "search.json", doc)
    for key, w in winners.items():
        write_json(out / f"winner-{key}.json", w)
        model = extract_winner(net, tuple(w["genotype"].split(",")), neuron="plif")
        autosnn.save(model, out / f"winner-{key}.pt", extra={
            "winner": w, "data": data.to_dict(), "inherited": not ann,
            "preprocess": preprocess_from_extra(extra),
        })
    title = (f"{net.config.name} C={net.config.channels} T={net.config.timesteps} on "
             f"{extra.get('dataset')}: {len(entries)} candidates")
    if chip_model is None:
        plot_pareto(entries, winners, out / "pareto.png", title)
    else:
        title += f", {chip_model.profile.name}"
        plot_pareto(entries, winners, out / "pareto.png", title, x_key="cost",
                    x_label=f"{cost_name} on {chip_model.profile.name}",
                    highlight=chosen["key"] if chosen else None)
        chip_outputs(out, doc, net, chip_model, by_geno, reporter,
                     preprocess=preprocess_from_extra(extra))
    write_json(out / "search-timing.json", {
        "seconds_per_lambda": result.seconds, "architectures_evaluated": len(entries),
        "evaluated_by_this_run": result.evaluated_now, "resumed": resume,
    })
    for key, w in winners.items():
        reporter.log(f"winner lambda={key}: {w['genotype']} acc {100 * w['accuracy']:.2f}% "
                     f"spikes {w['spikes']:,.0f} -> {out / w['checkpoint']}")
    return doc


def _finite(x: float) -> float | None:
    """JSON has no infinities: an infeasible fitness or cost is written as null."""
    return x if math.isfinite(x) else None


# -- retraining and evaluation ----------------------------------------------------------------
TRAIN_STATE_FILE = "train-state.pt"
MODEL_FILE = "model.pt"


def model_from_winner(path: Path) -> ModelSpec:
    """The :class:`ModelSpec` of a ``winner-<lambda>.json`` (or a winner ``.pt``) file."""
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
    return ModelSpec(space=space, channels=channels, timesteps=timesteps, genotype=genotype)


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
) -> dict:
    """Train an architecture from scratch, evaluate on the test split, write
    ``out/model.pt`` (loadable by ``autosnn.load``/``export``) and ``out/train.json``.
    ``full_train`` (default): on the whole training set, D_train + D_val, as the paper retrains
    (A.1.3); False: on D_train only. Under torchrun every rank trains; rank 0 evaluates and writes."""
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
    summary = {
        "model": what, "config": json.loads(net.config.to_json()), "data": data.to_dict(),
        "train": asdict(train), "history": [asdict(h) for h in history],
        "test_accuracy": result.accuracy, "test_spikes": result.spikes,
        "test_samples": result.samples, "train_seconds": train_s, "eval_seconds": eval_s,
    }
    if distributed.is_main():
        autosnn.save(net, out / MODEL_FILE, extra={k: summary[k] for k in (
            "model", "data", "test_accuracy", "test_spikes", "test_samples")}
            | {"preprocess": preprocessing_meta(splits.info)})
        write_json(out / "train.json", summary)
    reporter.log(f"test accuracy {100 * result.accuracy:.2f}%, spikes/img {result.spikes:,.0f} "
                 f"({result.samples} samples); wrote {out / MODEL_FILE}")
    return summary


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
    import numpy as np

    from autosnn.search.evaluate import activity_arrays, evaluate

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
