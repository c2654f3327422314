"""``autosnn supernet | search | train | eval``: the spike-aware NAS pipeline.

Thin layer: options -> typed configs -> :mod:`autosnn.app.pipeline`. Preset values are defaults;
options given explicitly override them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeAlias

import typer

from autosnn.app.chipcost import METRICS, Budgets, check_chip
from autosnn.app.cli.app import app
from autosnn.app.cli.common import (
    MAX_BATCH,
    MAX_EPOCHS,
    MAX_LIMIT,
    choices,
    even_channels,
    finite_in,
    seed_option,
)
from autosnn.app.deployed import MAX_ROUNDS as MAX_BUDGET_ROUNDS
from autosnn.app.deployed import budget_lines, target_from_winner
from autosnn.app.deployed_report import check_report_target
from autosnn.app.pipeline import (
    BudgetCheck,
    ModelSpec,
    SearchRequest,
    model_from_winner,
    read_winner,
    run_eval,
    run_search,
    run_supernet,
    run_train,
)
from autosnn.core.checkpoint import MAX_CHANNELS, MAX_SIDE, MAX_TIMESTEPS, read_meta
from autosnn.core.config import (
    PRESETS,
    SEARCH_METHODS,
    Preset,
    SearchConfig,
    TrainConfig,
    get_preset,
    override,
)
from autosnn.core.neuron import NEURONS
from autosnn.core.progress import Reporter
from autosnn.core.runtime import PRECISIONS, resolve_device
from autosnn.core.spaces import GENOTYPES, list_spaces
from autosnn.core.zoo import list_zoo
from autosnn.data.spec import SPLITS, DataSpec
from autosnn.search.fitness import FITNESS_FORMS, check_lambda, lambda_key
from autosnn.train.distributed import env_info
from safeio import (
    check_output_file,
    clean_stale_temps,
    out_lock,
    refuse_overwriting_inputs,
    write_json,
)

Dataset = Annotated[str | None, typer.Option("--dataset", help="Dataset name (default fashion-mnist).")]
DataDir = Annotated[str | None, typer.Option("--data-dir", help="Folder with the dataset's files.")]
if TYPE_CHECKING:  # the choices are string enums built from the registries at import time
    SpaceName: TypeAlias = StrEnum
    PresetName: TypeAlias = StrEnum
    NeuronKind: TypeAlias = StrEnum
    FitnessForm: TypeAlias = StrEnum
    ZooName: TypeAlias = StrEnum
    SearchMethod: TypeAlias = StrEnum
    ChipMetric: TypeAlias = StrEnum
    Split: TypeAlias = StrEnum
    PrecisionName: TypeAlias = StrEnum
else:
    SpaceName = choices("SpaceName", list_spaces())
    PresetName = choices("PresetName", PRESETS.names())
    NeuronKind = choices("NeuronKind", NEURONS.names())
    FitnessForm = choices("FitnessForm", FITNESS_FORMS.names())
    ZooName = choices("ZooName", list_zoo())
    SearchMethod = choices("SearchMethod", list(SEARCH_METHODS))
    ChipMetric = choices("ChipMetric", list(METRICS))
    Split = choices("Split", list(SPLITS))
    PrecisionName = choices("PrecisionName", list(PRECISIONS))
# Ranges are checked here, at the boundary, before any data is loaded or memory allocated; the
# upper bounds (autosnn.core.checkpoint) are generous limits against typos, not tuning advice.
MAX_SPIKE_REG = 100.0  # beyond this Adam's second moment overflows float32 and weights go NaN
Space = Annotated[SpaceName, typer.Option("--space", help="Search space.")]
Channels = Annotated[int | None, typer.Option("--channels", min=2, max=MAX_CHANNELS, callback=even_channels, help=f"Initial channels C, even, 2-{MAX_CHANNELS} (default: the preset's).")]
Timesteps = Annotated[int | None, typer.Option("--timesteps", min=1, max=MAX_TIMESTEPS, help=f"Timesteps T, 1-{MAX_TIMESTEPS} (default: the preset's or the dataset's).")]
Epochs = Annotated[int | None, typer.Option("--epochs", min=1, max=MAX_EPOCHS, help="Training epochs, >= 1.")]
BatchSize = Annotated[int | None, typer.Option("--batch-size", min=1, max=MAX_BATCH, help=f"Mini-batch size, 1-{MAX_BATCH}.")]
Limit = Annotated[int | None, typer.Option("--limit", min=1, max=MAX_LIMIT, help="Use at most N samples per split, N >= 1 (default: the preset's).")]
Seed = Annotated[int, seed_option()]
Out = Annotated[Path, typer.Option("--out", help="Output folder (created; one run at a time per folder).")]
Device = Annotated[str, typer.Option("--device", help="auto (CUDA when present, else CPU), cpu, cuda, cuda:1 ...")]
PresetOpt = Annotated[PresetName, typer.Option("--preset", help="Defaults: quick (minutes on a CPU) or paper.")]
Resume = Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in --out.")]
Precision = Annotated[PrecisionName | None, typer.Option("--precision", help="auto (bf16 where fast), fp32 or bf16.")]
SpikeReg = Annotated[float | None, typer.Option("--spike-reg", callback=finite_in(0.0, MAX_SPIKE_REG), help=f"Spike regularisation beta, 0-{MAX_SPIKE_REG:g}.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]
SyncBN = Annotated[bool, typer.Option("--sync-bn", help="Under torchrun: batch norm over the global batch (all ranks), not each rank's slice.")]


def _data_spec(preset: Preset, dataset: str | None, data_dir: str | None, seed: int,
               limit: int | None, timesteps: int | None) -> DataSpec:
    return DataSpec(
        dataset=dataset, data_dir=data_dir, seed=seed,
        train_limit=limit if limit is not None else preset.train_limit,
        val_limit=limit if limit is not None else preset.val_limit,
        test_limit=limit if limit is not None else preset.test_limit,
        timesteps=timesteps if timesteps is not None else preset.timesteps,
    )


def _train_cfg(base: TrainConfig, *, epochs: int | None, batch_size: int | None, seed: int,
               device: str, precision: str | None, spike_reg: float | None = None,
               cutout: int | None = None) -> TrainConfig:
    return override(base, epochs=epochs, batch_size=batch_size, seed=seed, device=device,
                    precision=_value(precision), spike_reg=spike_reg, cutout=cutout)


def _value(choice: str | None) -> str | None:
    """A choice enum member as the plain string the library takes."""
    return None if choice is None else str(getattr(choice, "value", choice))


@contextmanager
def _one_writer(out: Path, command: str, *, resume: bool, reporter: Reporter,
                device: str) -> Iterator[None]:
    """Before any long computation: the device exists, ``out`` is a writable folder, and this
    process is its only writer (an OS lock released when the process ends, however it ends).
    With ``--resume``, temp files a killed run left behind are removed. Under torchrun rank 0
    holds the lock for all ranks."""
    resolve_device(device)
    if not env_info().is_main:
        yield
        return
    with out_lock(out, f"autosnn {command}"):
        if resume:
            for stale in clean_stale_temps(out):
                reporter.log(f"removed {stale} (temp file of an interrupted run)")
        yield


@app.command("supernet")
def supernet_cmd(
    dataset: Dataset = None,
    data_dir: DataDir = None,
    space: Space = SpaceName("snn1"),
    channels: Channels = None,
    timesteps: Timesteps = None,
    epochs: Epochs = None,
    batch_size: BatchSize = None,
    limit: Limit = None,
    seed: Seed = 0,
    out: Out = Path("runs/nas"),
    device: Device = "auto",
    preset: PresetOpt = PresetName("paper"),
    resume: Resume = False,
    precision: Precision = None,
    neuron: Annotated[NeuronKind, typer.Option("--neuron", help="Neuron: relu is the ANN variant.")] = NeuronKind("plif"),
    spike_reg: SpikeReg = None,
    sync_bn: SyncBN = False,
    quiet: Quiet = False,
) -> None:
    """Train the weight-sharing super-network (single-path uniform sampling) -> OUT/supernet.pt."""
    p = get_preset(preset.value)
    reporter = Reporter(quiet=quiet or not env_info().is_main)  # torchrun: rank 0 reports
    try:
        with _one_writer(out, "supernet", resume=resume, reporter=reporter, device=device):
            run_supernet(
                data=_data_spec(p, dataset, data_dir, seed, limit, timesteps),
                model=ModelSpec(space=space.value,
                                channels=channels if channels is not None else p.channels,
                                neuron=neuron.value),
                train=_train_cfg(p.supernet, epochs=epochs, batch_size=batch_size, seed=seed,
                                 device=device, precision=precision, spike_reg=spike_reg),
                out=out, resume=resume, reporter=reporter, sync_bn=sync_bn,
            )
    finally:
        reporter.close()


def _parse_lambdas(values: list[str] | None, p: Preset, chip: bool) -> tuple[bool, tuple[float, ...]]:
    """``--lambda`` values -> (auto?, lambdas): numbers the library accepts
    (:func:`~autosnn.search.fitness.check_lambda`), or ``auto`` (the preset's grid)."""
    if not values:
        return (True, p.lambda_grid) if chip else (False, p.lambdas)
    if "auto" in values:
        if len(values) > 1:
            raise typer.BadParameter("--lambda auto cannot be combined with numbers")
        if not chip:
            raise typer.BadParameter("--lambda auto chooses lambda for a chip: give --chip")
        return True, p.lambda_grid
    out = []
    for v in values:
        try:
            lam = float(v)
        except ValueError:
            raise typer.BadParameter(f"--lambda {v!r}: expected a number <= 0 or auto") from None
        out.append(check_lambda(lam))
    return False, tuple(out)


@app.command("search")
def search_cmd(
    out: Out = Path("runs/nas"),
    supernet: Annotated[Path | None, typer.Option("--supernet", help="Super-network checkpoint (default OUT/supernet.pt).")] = None,
    lambdas: Annotated[list[str] | None, typer.Option("--lambda", help="Cost coefficient lambda <= 0 (repeat for several), or 'auto': sweep the preset's grid and choose per chip (the default with --chip; rule in the README).")] = None,
    fitness: Annotated[FitnessForm | None, typer.Option("--fitness", help="Fitness form: power (Eq. 3) or linear (default: the preset's).")] = None,
    method: Annotated[SearchMethod, typer.Option("--method", help="evolution (Algorithm 1) or random.")] = SearchMethod("evolution"),
    rounds: Annotated[int | None, typer.Option("--rounds", min=1, max=100_000, help="Search rounds, >= 1.")] = None,
    pool: Annotated[int | None, typer.Option("--pool", min=1, max=1_000_000, help="Evaluation pool size, >= 1.")] = None,
    top_k: Annotated[int | None, typer.Option("--top-k", min=1, max=1_000_000, help="Top-k pool size, >= 1.")] = None,
    mutations: Annotated[int | None, typer.Option("--mutations", min=0, max=1_000_000, help="Mutations per round, >= 0 (mutations + crossovers <= pool).")] = None,
    crossovers: Annotated[int | None, typer.Option("--crossovers", min=0, max=1_000_000, help="Crossovers per round, >= 0.")] = None,
    mutation_prob: Annotated[float | None, typer.Option("--mutation-prob", callback=finite_in(0.0, 1.0), help="Per-slot mutation probability, 0-1.")] = None,
    batch_size: BatchSize = None,
    limit: Limit = None,
    seed: Seed = 0,
    device: Device = "auto",
    preset: PresetOpt = PresetName("paper"),
    resume: Resume = False,
    precision: Precision = None,
    quiet: Quiet = False,
    dataset: Dataset = None,
    data_dir: DataDir = None,
    space: Annotated[SpaceName | None, typer.Option("--space", help="Check: the super-network's space must be this one.")] = None,
    channels: Annotated[int | None, typer.Option("--channels", min=2, max=MAX_CHANNELS, callback=even_channels, help="Check: the super-network's C must be this.")] = None,
    timesteps: Annotated[int | None, typer.Option("--timesteps", min=1, max=MAX_TIMESTEPS, help="Check: the super-network's T must be this.")] = None,
    chip: Annotated[str | None, typer.Option("--chip", help="Optimise for a chip: a built-in profile (loihi2, loihi2.yaml) or a YAML path; the fitness discounts hwsim's cost instead of spikes.")] = None,
    chip_metric: Annotated[ChipMetric, typer.Option("--chip-metric", help="With --chip: energy (J per inference), latency (s per timestep) or link-util (peak link utilisation).")] = ChipMetric("energy"),
    max_cores: Annotated[int | None, typer.Option("--max-cores", min=1, help="With --chip: budget of neuromorphic cores (default: the chip profile's search: section, else none).")] = None,
    max_latency: Annotated[float | None, typer.Option("--max-latency", callback=finite_in(0.0, math.inf, low_open=True), help="With --chip: budget of time per timestep, seconds > 0 (default: the chip profile's search: section, else none).")] = None,
    max_energy: Annotated[float | None, typer.Option("--max-energy", callback=finite_in(0.0, math.inf, low_open=True), help="With --chip: budget of energy per inference, joules > 0 (default: the chip profile's search: section, else none).")] = None,
    max_link_util: Annotated[float | None, typer.Option("--max-link-util", callback=finite_in(0.0, 1.0, low_open=True), help="With --chip: budget of peak link utilisation, (0, 1] (default: the chip profile's search: section, else none).")] = None,
    finalists: Annotated[int, typer.Option("--finalists", min=1, max=1000, help="With --chip: the top N of every lambda, deduplicated, are re-measured on the whole D_val before choosing (5 adds over a minute to the quick demo).")] = 3,
    finalist_limit: Annotated[int | None, typer.Option("--finalist-limit", min=1, max=MAX_LIMIT, help="With --chip: re-measure the finalists on at most N D_val images (default: all of D_val).")] = None,
    max_acc_drop: Annotated[float | None, typer.Option("--max-acc-drop", callback=finite_in(0.0, 100.0), help="With --chip: choose the cheapest finalist at most this many percentage points below the most accurate (default: the cheapest not significantly below it, 95 % paired interval).")] = None,
) -> None:
    """Evolutionary (or random) search on a trained super-network, one run per --lambda.

    Writes OUT/search.json, OUT/winner-<lambda>.json and .pt, OUT/pareto.png. The data, space,
    channels and timesteps are those the super-network was trained with.
    """
    p = get_preset(preset.value)
    expect = {"space": space.value if space else None, "channels": channels, "timesteps": timesteps, "dataset": dataset}
    cfg: SearchConfig = override(p.search, rounds=rounds, pool_size=pool, top_k=top_k,
                                 mutations=mutations, crossovers=crossovers,
                                 mutation_prob=mutation_prob, method=method.value)
    auto, lams = _parse_lambdas(lambdas, p, chip is not None)
    budgets = Budgets(max_cores, max_latency, max_energy, max_link_util)
    if chip is None and (budgets.active or max_acc_drop is not None):
        raise typer.BadParameter("--max-cores/--max-latency/--max-energy/--max-link-util/"
                                 "--max-acc-drop need --chip")
    if chip is not None and Path(chip).exists() and not Path(chip).is_file():
        raise typer.BadParameter(f"--chip {chip}: not a regular file (a FIFO would block)")
    if chip is not None:  # a bad profile (its search: section too) fails before any loading
        check_chip(chip)
    request = SearchRequest(
        lambdas=lams, lambda_auto=auto, budgets=budgets,
        fitness=fitness.value if fitness else p.fitness, config=cfg, seed=seed,
        eval_batch_size=batch_size if batch_size is not None else p.eval_batch_size,
        precision=_value(precision) or p.retrain.precision, device=device,
        val_limit=limit, data_dir=data_dir,
        expect={k: v for k, v in expect.items() if v is not None},
        chip=chip, chip_metric=chip_metric.value, finalists=finalists,
        finalist_limit=finalist_limit, max_acc_drop=max_acc_drop,
    )
    supernet = supernet if supernet is not None else out / "supernet.pt"
    written = [out / n for n in ("search.json", "search-state.json", "pareto.png",
                                 "winner.json", "winner.pt")]
    written += [out / f"winner-{lambda_key(lam)}{ext}" for lam in lams for ext in (".json", ".pt")]
    refuse_overwriting_inputs(written, [supernet])
    reporter = Reporter(quiet=quiet)
    try:
        with _one_writer(out, "search", resume=resume, reporter=reporter, device=device):
            run_search(supernet=supernet, request=request, out=out, resume=resume,
                       reporter=reporter)
    finally:
        reporter.close()


@app.command("train")
def train_cmd(
    genotype: Annotated[str | None, typer.Option("--genotype", help=f"Block per slot, comma-separated, or a registered name ({', '.join(GENOTYPES.names())}).")] = None,
    model: Annotated[ZooName | None, typer.Option("--model", help="Zoo model.")] = None,
    winner: Annotated[Path | None, typer.Option("--winner", help="winner-<lambda>.json or .pt from a search.")] = None,
    dataset: Dataset = None,
    data_dir: DataDir = None,
    space: Space = SpaceName("snn1"),
    channels: Channels = None,
    timesteps: Timesteps = None,
    epochs: Epochs = None,
    batch_size: BatchSize = None,
    limit: Limit = None,
    seed: Seed = 0,
    out: Out = Path("runs/train"),
    device: Device = "auto",
    preset: PresetOpt = PresetName("paper"),
    resume: Resume = False,
    precision: Precision = None,
    cutout: Annotated[int | None, typer.Option("--cutout", min=0, max=MAX_SIDE, help=f"Cutout side in pixels, 0-{MAX_SIDE} (0 = off; default: the preset's, paper 16, quick 0).")] = None,
    spike_reg: SpikeReg = None,
    neuron: Annotated[NeuronKind, typer.Option("--neuron", help="Neuron: relu is the ANN variant.")] = NeuronKind("plif"),
    sync_bn: SyncBN = False,
    quiet: Quiet = False,
    quantize: Annotated[str | None, typer.Option("--quantize", help="Quantisation-aware training for a chip: loihi2 (PLIF spaces) or speck (the speck space: sinabs's discretised network); the forward pass runs the chip's integer arithmetic, so its export rounds nothing training did not see.")] = None,
    quantize_epochs: Annotated[int | None, typer.Option("--quantize-epochs", min=1, max=MAX_EPOCHS, help="With --quantize: only the last N epochs (default: the whole run).")] = None,
    budget_rounds: Annotated[int | None, typer.Option("--budget-rounds", min=0, max=MAX_BUDGET_ROUNDS, help=f"With --winner of a chip search: at most N fine-tuning rounds (spike regulariser aimed at the searched activity) while the retrained network breaks the search's budgets, 0-{MAX_BUDGET_ROUNDS} (default 3; 0: cost and report only).")] = None,
    budget_epochs: Annotated[int | None, typer.Option("--budget-epochs", min=1, max=MAX_EPOCHS, help="Epochs per budget round, >= 1 (default 1).")] = None,
    budget_samples: Annotated[int | None, typer.Option("--budget-samples", min=1, max=MAX_LIMIT, help="Training images per budget round (a seeded random draw each round), >= 1 (default: the whole training set).")] = None,
    no_budget_check: Annotated[bool, typer.Option("--no-budget-check", help="With --winner of a chip search: do not cost the retrained network on the chip.")] = False,
) -> None:
    """Retrain a searched genotype, a winner or a zoo model from scratch -> OUT/model.pt.

    The retrained network of a chip-search winner is costed on its chip with its activity
    measured on D_val and held to the search's budgets (train.json's "budget")."""
    from autosnn.train.quantize import check_quantize, check_quantize_space

    check_quantize(quantize)
    if quantize_epochs is not None and quantize is None:
        raise typer.BadParameter("--quantize-epochs needs --quantize")
    p = get_preset(preset.value)
    given = [x is not None for x in (genotype, model, winner)]
    if sum(given) != 1:
        raise typer.BadParameter("give exactly one of --genotype, --model, --winner")
    refuse_overwriting_inputs([out / "model.pt", out / "train.json", out / "train-state.pt",
                               out / "report.md"],
                              [winner])
    tuning = (budget_rounds, budget_epochs, budget_samples)
    if winner is None and (any(x is not None for x in tuning) or no_budget_check):
        raise typer.BadParameter("--budget-rounds/--budget-epochs/--budget-samples/"
                                 "--no-budget-check need --winner (a chip search's winner file)")
    if no_budget_check and any(x is not None for x in tuning):
        raise typer.BadParameter("--no-budget-check cannot be combined with --budget-rounds/"
                                 "--budget-epochs/--budget-samples")
    budget = None
    if winner is not None:
        spec = model_from_winner(winner)
        target = None if no_budget_check else target_from_winner(read_winner(winner), winner)
        if target is not None:
            check_chip(target.chip)  # a profile that no longer loads fails before training
            check_report_target(out)  # this run writes report.md: never over a search's
            budget = BudgetCheck(target, 3 if budget_rounds is None else budget_rounds,
                                 1 if budget_epochs is None else budget_epochs, budget_samples)
        spec = ModelSpec(space=spec.space, genotype=spec.genotype, neuron=neuron.value,
                         channels=channels if channels is not None else spec.channels,
                         timesteps=timesteps if timesteps is not None else spec.timesteps)
    else:
        spec = ModelSpec(space=space.value,
                         channels=channels if channels is not None else p.channels,
                         neuron=neuron.value,
                         timesteps=timesteps if timesteps is not None else p.timesteps,
                         genotype=genotype, zoo=model.value if model else None)
    check_quantize_space(quantize, None if spec.zoo else spec.space)
    reporter = Reporter(quiet=quiet or not env_info().is_main)  # torchrun: rank 0 reports
    try:
        with _one_writer(out, "train", resume=resume, reporter=reporter, device=device):
            summary = run_train(
                data=_data_spec(p, dataset, data_dir, seed, limit, spec.timesteps),
                model=spec,
                train=override(_train_cfg(p.retrain, epochs=epochs, batch_size=batch_size,
                                          seed=seed, device=device, precision=precision,
                                          spike_reg=spike_reg, cutout=cutout),
                               quantize=quantize, quantize_epochs=quantize_epochs),
                out=out, resume=resume, reporter=reporter, sync_bn=sync_bn, budget=budget,
            )
    finally:
        reporter.close()
    record = summary.get("budget")
    if record is not None:  # printed even with --quiet: it is the result of the check
        typer.echo(budget_lines(record))


@app.command("eval")
def eval_cmd(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint (autosnn.save format).")],
    dataset: Dataset = None,
    data_dir: DataDir = None,
    split: Annotated[Split, typer.Option("--split", help="Split to evaluate.")] = Split("test"),
    batch_size: BatchSize = None,
    limit: Limit = None,
    seed: Seed = 0,
    device: Device = "auto",
    preset: PresetOpt = PresetName("paper"),
    precision: Precision = None,
    activity: Annotated[Path | None, typer.Option("--activity", help="Save per-neuron spike counts (npz).")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the report as JSON.")] = None,
) -> None:
    """Accuracy, spikes per image, per-layer spikes and firing rates of a checkpoint."""
    from dataclasses import asdict

    from rich.console import Console
    from rich.table import Table

    p = get_preset(preset.value)
    # Output problems are found before the evaluation, not after it.
    refuse_overwriting_inputs([activity, json_out], [checkpoint])
    if activity is not None and json_out is not None:
        refuse_overwriting_inputs([json_out], [activity])
    for path in (activity, json_out):
        if path is not None:
            check_output_file(path)
    resolve_device(device)
    T = read_meta(checkpoint)[0]["config"].get("timesteps")
    result = run_eval(
        checkpoint=checkpoint, data=_data_spec(p, dataset, data_dir, seed, limit, T),
        split=split.value, batch_size=batch_size if batch_size is not None else p.eval_batch_size,
        precision=_value(precision) or p.retrain.precision,
        device=device, activity=activity,
    )
    table = Table(title=f"{checkpoint} on {split.value} ({result.samples} samples, T={result.timesteps})")
    for col in ("layer", "neurons", "spikes/img", "firing rate"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    for name, v in result.per_layer.items():
        table.add_row(name, f"{result.neurons.get(name, 0):,}", f"{v:,.1f}",
                      f"{result.firing_rate[name]:.4f}")
    console = Console()
    console.print(table)
    console.print(f"accuracy {100 * result.accuracy:.2f}%  spikes/img {result.spikes:,.1f}")
    if activity is not None:
        console.print(f"wrote per-neuron spike counts to {activity}")
    if json_out is not None:
        write_json(json_out, asdict(result))
