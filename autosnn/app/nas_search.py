"""``autosnn search`` as steps: open the super-network, set up the chip cost (with ``--chip``),
run Algorithm 1 for every lambda, gather a typed :class:`~autosnn.app.outcome.SearchOutcome`,
choose, and write every output from that outcome.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

import autosnn
from autosnn.app.chipcost import UNITS, Budgets, ChipCost, ChipTarget, chip_path
from autosnn.app.judge import judge
from autosnn.app.outcome import (
    Arch,
    Candidate,
    ChipFigures,
    ChipRun,
    SearchOutcome,
    Winner,
    finite,
)
from autosnn.app.report import chip_outputs
from autosnn.core.config import EVAL_BATCH_SIZE, PAPER, SearchConfig, override
from autosnn.core.errors import AutosnnError
from autosnn.core.network import SpikingNet
from autosnn.core.progress import Reporter
from autosnn.core.runtime import resolve_device
from autosnn.core.spaces import SpaceSpec
from autosnn.data import DatasetSplits
from autosnn.data.preprocess import preprocess_from_extra
from autosnn.data.spec import MIN_SEARCH_VAL, DataSpec, load_data
from autosnn.search.evaluate import eval_batches
from autosnn.search.evolution import Evaluator, check_pool
from autosnn.search.fitness import Evaluation, FitnessSpec, lambda_key, spike_cost
from autosnn.search.lambdas import STATE_FILE, MultiSearch, search_lambdas
from autosnn.search.outputs import extract_winner, plot_pareto
from autosnn.search.ranks import RankSplitEvaluator
from autosnn.search.shared_eval import SharedPrefixEvaluator
from autosnn.train import distributed
from safeio import write_json

# Random architectures drawn for the chip's reference cost before giving up (rejected ones
# cost a structural check each, not an evaluation).
REFERENCE_DRAWS = 4000


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
    finalists: int = 3  # chip searches: the top N of every lambda are re-measured ...
    finalist_limit: int | None = None  # ... on this many D_val images (None: all of D_val)
    max_acc_drop: float | None = None  # pp below the best a cheaper finalist may lose (None: test)


def load_supernet(path: Path) -> tuple[SpikingNet, dict]:
    """Load a super-network checkpoint written by :func:`run_supernet` and its ``extra``."""
    net = autosnn.load(path)
    if net.config.kind != "supernet":
        raise AutosnnError(f"{path}: not a super-network checkpoint (kind {net.config.kind!r})")
    extra = getattr(net, "extra", {})
    if "spikes_avg" not in extra or "data" not in extra:
        raise AutosnnError(f"{path}: field extra: missing spikes_avg/data (not from autosnn supernet)")
    avg = extra["spikes_avg"]
    ann = net.config.neuron == "relu"  # the ANN variant fires no spikes: its average is 0
    if (isinstance(avg, bool) or not isinstance(avg, int | float) or not math.isfinite(avg)
            or avg < 0 or (avg == 0 and not ann)):
        raise AutosnnError(f"{path}: field extra.spikes_avg: expected a finite number > 0 (the "
                           f"super-network's mean spikes per image), got {avg!r}"[:300])
    DataSpec.from_dict(extra["data"], where=str(path), field="extra.data")  # checked up front
    return net, extra


@dataclass(frozen=True)
class Setup:
    """What a search runs on: the super-network (on its device), its metadata, the data (the
    super-network's, with the request's overrides) and the lambdas (duplicates dropped)."""

    net: SpikingNet
    extra: dict[str, Any]
    data: DataSpec
    splits: DatasetSplits
    device: torch.device
    lambdas: tuple[float, ...]

    @property
    def ann(self) -> bool:
        return self.net.config.neuron != "plif"

    @property
    def spikes_avg(self) -> float:
        return float(self.extra["spikes_avg"])

    @property
    def space(self) -> SpaceSpec:
        return self.net.search_space()


@dataclass(frozen=True)
class ChipSetup:
    """The chip cost model of a ``--chip`` search and its ``Cost_ref`` (mean cost of the
    ``sample`` seeded random architectures that map)."""

    model: ChipCost
    cost_ref: float
    sample: int


def open_search(supernet: Path, request: SearchRequest) -> Setup:
    """Load the super-network and its data; refuse settings the super-network contradicts
    (a ``--pool`` larger than its space too, before the data is loaded)."""
    net, extra = load_supernet(supernet)
    try:
        check_pool(request.config, net.search_space(), name="--pool")
    except ValueError as exc:
        raise AutosnnError(f"{exc} (the super-network {supernet})") from None
    device = resolve_device(request.device)
    net = net.to(device)
    data = override(DataSpec.from_dict(extra["data"], where=str(supernet), field="extra.data"),
                    val_limit=request.val_limit, data_dir=request.data_dir)
    have = {"space": net.config.name, "channels": net.config.channels,
            "timesteps": net.config.timesteps, "dataset": extra.get("dataset")}
    for key, want in (request.expect or {}).items():
        if want != have[key]:
            raise AutosnnError(
                f"{supernet}: the super-network was trained with {key} {have[key]!r}, not "
                f"{want!r}; the search uses the super-network's settings"
            )
    splits = load_data(data, need={"val": MIN_SEARCH_VAL}, what="a search (it ranks on D_val)")
    setup = Setup(net, extra, data, splits, device, tuple(dict.fromkeys(request.lambdas)))
    if setup.ann and any(lam != 0 for lam in setup.lambdas):
        raise AutosnnError("the ANN variant (neuron relu) has no spikes: search it with --lambda 0")
    if setup.ann and request.chip:
        raise AutosnnError("--chip needs a spiking super-network (this one is the ANN variant)")
    return setup


def make_evaluator(setup: Setup, request: SearchRequest) -> Evaluator:
    """The shared-prefix evaluator on the search's D_val (under torchrun every rank evaluates
    its share of each round's candidates). The neuron runs the compiled loop (unless
    ``AUTOSNN_COMPILE=0``): it gives the eager loop's spikes bit for bit in 0.72x the
    evaluation time (bench/search_eval.py with and without --eager, docs/benchmarks.md).
    channels_last is not used here: it changes spike counts."""
    from autosnn.core.neuron import set_compiled
    from autosnn.core.runtime import compile_default

    set_compiled(compile_default())
    batches = eval_batches(setup.splits.val, request.eval_batch_size, setup.device)
    return RankSplitEvaluator(SharedPrefixEvaluator(setup.net, batches, request.precision),
                              distributed.init(setup.device))


def setup_chip(setup: Setup, request: SearchRequest, evaluator: Evaluator,
               reporter: Reporter) -> ChipSetup:
    """The chip cost model and ``Cost_ref``: the mean cost of seeded random architectures that
    map onto the chip (drawn 8 at a time until one is feasible within the budgets, at most 64
    evaluated; on a chip whose rules exclude many blocks, e.g. TrueNorth's 256 axons, few map)."""
    assert request.chip is not None
    net, space = setup.net, setup.space
    model = ChipCost(
        ChipTarget(chip_path(request.chip), request.chip_metric, budgets=request.budgets),
        space=space, channels=net.config.channels, num_classes=net.config.num_classes,
        input_shape=net.config.input_shape, timesteps=net.config.timesteps,
    )
    rng = random.Random(request.seed)
    drawn: set = set()
    sample: list = []
    evaluated: list[Evaluation] = []
    while len(sample) < 64 and len(drawn) < min(space.size, REFERENCE_DRAWS):
        batch = [g for g in dict.fromkeys(space.sample(rng) for _ in range(8)) if g not in drawn]
        drawn.update(batch)
        batch = [g for g in batch if model.admissible(g)]
        sample += batch
        evaluated += evaluator(batch) if batch else []
        if any(model.binding(e) is None for e in evaluated):
            break
    if not sample:
        raise AutosnnError(model.unmappable(len(drawn)))
    budgets = model.budgets
    if budgets.from_profile:
        reporter.log(f"budgets from the search: section of {budgets.profile} (options "
                     "override them): " + ", ".join(
                         f"{n} {v:g}" for n, v in budgets.to_dict().items()
                         if n in budgets.from_profile))
    cost_ref = model.reference_cost(evaluated)
    reporter.log(f"chip {model.profile.name}: mean {_cost_name(request)} of {len(sample)} "
                 f"sampled architectures (measured activity): {cost_ref:.4g}")
    return ChipSetup(model, cost_ref, len(sample))


def _cost_name(request: SearchRequest) -> str:
    if request.chip is None:
        return "spikes per image"
    return f"{request.chip_metric} ({UNITS[request.chip_metric]})"


def fitness_spec(setup: Setup, request: SearchRequest, chip: ChipSetup | None) -> FitnessSpec:
    """The run's one fitness construction: spikes (or the chip metric) in the request's form."""
    if chip is None:
        return FitnessSpec(request.fitness, setup.spikes_avg, spike_cost, _cost_name(request),
                           accuracy_only=setup.ann)
    return FitnessSpec(request.fitness, chip.cost_ref, chip.model.cost, _cost_name(request))


def fingerprint(setup: Setup, request: SearchRequest, chip: ChipSetup | None) -> str:
    """What a resumed search must share with the run that wrote the checkpoint."""
    net = setup.net
    return json.dumps({
        "supernet": net.config.to_json(), "spikes_avg": setup.spikes_avg,
        "data": setup.data.to_dict(), "fitness": request.fitness,
        "search": asdict(request.config), "seed": request.seed,
        "lambdas": list(setup.lambdas), "precision": request.precision,
        "batch": request.eval_batch_size, "chip": request.chip,
        "chip_metric": request.chip_metric,
        **({"budgets": chip.model.budgets.to_dict()} if chip is not None else {}),
    }, sort_keys=True)


def search_all(setup: Setup, request: SearchRequest, evaluator: Evaluator, spec: FitnessSpec,
               chip: ChipSetup | None, *, out: Path, resume: bool,
               reporter: Reporter) -> MultiSearch:
    """Algorithm 1 (or random search) for every lambda, sharing one evaluation cache."""
    net, space = setup.net, setup.space
    reporter.log(
        f"{request.config.method} search over {space.size:,} architectures of {net.config.name}, "
        f"lambdas {', '.join(lambda_key(x) for x in setup.lambdas)}, {len(setup.splits.val)} "
        f"D_val samples, Spikes_avg {setup.spikes_avg:,.0f}"
    )
    result = search_lambdas(
        space, evaluator, spec.at, setup.lambdas, request.config, seed=request.seed,
        state_path=out / STATE_FILE, resume=resume,
        fingerprint=fingerprint(setup, request, chip), reporter=reporter,
        admissible=chip.model.admissible if chip is not None else None,
    )
    if any(not s.top for s in result.states.values()):  # every candidate drawn was rejected
        raise AutosnnError(f"no architecture the search drew maps onto the chip ({request.chip})")
    if chip is not None and chip.model.rejected:
        reporter.log(f"{len(chip.model.rejected)} architectures rejected before evaluation: "
                     f"they cannot map onto {chip.model.profile.name}")
    return result


def _figures(chip: ChipSetup | None, e: Evaluation) -> ChipFigures | None:
    if chip is None:
        return None
    return ChipFigures(finite(chip.model.cost(e)), chip.model.summary(e))


def gather(setup: Setup, request: SearchRequest, spec: FitnessSpec, result: MultiSearch,
           chip: ChipSetup | None) -> SearchOutcome:
    """The typed outcome: every candidate with its fitness per lambda and each lambda's winner
    (the choice among finalists is :func:`autosnn.app.judge.judge`'s)."""
    keys = [lambda_key(lam) for lam in setup.lambdas]
    fits = {k: spec.at(lam) for k, lam in zip(keys, setup.lambdas, strict=True)}
    rounds = {k: dict(s.evaluated) for k, s in result.states.items()}
    candidates = []
    for e in result.evaluations:
        per = {k: rounds[k][e.genotype] for k in keys if e.genotype in rounds[k]}
        candidates.append(Candidate(e, next(iter(per.values())), per,
                                    {k: finite(f(e)) for k, f in fits.items()},
                                    _figures(chip, e)))
    by_geno = {e.genotype: e for e in result.evaluations}
    net = setup.net
    arch = Arch(net.config.name, net.config.channels, net.config.timesteps)
    winners = {}
    for k, lam in zip(keys, setup.lambdas, strict=True):
        e = by_geno[result.states[k].top[0]]
        winners[k] = Winner(k, lam, e, finite(fits[k](e)), arch, _figures(chip, e))
    return SearchOutcome(
        space=net.config.name, block_candidates=tuple(setup.space.candidates),
        supernet_config=json.loads(net.config.to_json()), spikes_avg=setup.spikes_avg,
        data=setup.data.to_dict(), dataset=setup.extra.get("dataset"),
        search=asdict(request.config), fitness_form=spec.form_name, cost_name=spec.cost_name,
        cost_ref=spec.cost_ref, ann=setup.ann, seed=request.seed, lambdas=setup.lambdas,
        precision=request.precision, candidates=candidates, winners=winners,
        chip=None if chip is None else _chip_run(chip, request),
    )


def _chip_run(chip: ChipSetup, request: SearchRequest) -> ChipRun:
    b = chip.model.budgets
    return ChipRun(chip.model.profile.name, request.chip_metric, chip.cost_ref, b.to_dict(),
                   b.origins(), b.profile, chip.model.rejections(), chip.sample)


def write_outputs(outcome: SearchOutcome, setup: Setup, chip: ChipSetup | None,
                  result: MultiSearch, *, out: Path, resume: bool, reporter: Reporter) -> None:
    """search.json, the winners (JSON + checkpoint), pareto.png, the chip outputs, timings."""
    net, extra = setup.net, setup.extra
    write_json(out / "search.json", outcome.to_json())
    for w in [*outcome.winners.values(), *([outcome.deploy] if outcome.deploy else [])]:
        doc = w.to_json()
        if chip is not None:  # what `autosnn train --winner` checks the retrained network against
            doc["chip"] = {**doc["chip"], **chip.model.deploy_target()}
        write_json(out / w.checkpoint.replace(".pt", ".json"), doc)
        model = extract_winner(net, w.genotype, neuron="plif")
        autosnn.save(model, out / w.checkpoint, extra={
            "winner": doc, "data": setup.data.to_dict(), "inherited": not setup.ann,
            "preprocess": preprocess_from_extra(extra),
        })
    entries = [c.to_json() for c in outcome.candidates]
    winners = {k: w.to_json() for k, w in outcome.winners.items()}
    title = (f"{net.config.name} C={net.config.channels} T={net.config.timesteps} on "
             f"{extra.get('dataset')}: {len(entries)} candidates")
    if chip is None:
        plot_pareto(entries, winners, out / "pareto.png", title)
    else:
        plot_pareto(entries, winners, out / "pareto.png", title + f", {chip.model.profile.name}",
                    x_key="cost", x_label=f"{outcome.cost_name} on {chip.model.profile.name}",
                    highlight=outcome.chosen.key if outcome.chosen else None)
        chip_outputs(out, outcome, net, chip.model, reporter,
                     preprocess=preprocess_from_extra(extra))
    write_json(out / "search-timing.json", {
        "seconds_per_lambda": result.seconds, "architectures_evaluated": len(entries),
        "evaluated_by_this_run": result.evaluated_now, "resumed": resume,
    })
    for key, w in outcome.winners.items():
        reporter.log(f"winner lambda={key}: {','.join(w.genotype)} acc "
                     f"{100 * w.evaluation.accuracy:.2f}% spikes {w.evaluation.spikes:,.0f} -> "
                     f"{out / w.checkpoint}")


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
    reporter = reporter or Reporter(quiet=True)
    out.mkdir(parents=True, exist_ok=True)
    setup = open_search(supernet, request)
    evaluator = make_evaluator(setup, request)
    chip = setup_chip(setup, request, evaluator, reporter) if request.chip else None
    spec = fitness_spec(setup, request, chip)
    result = search_all(setup, request, evaluator, spec, chip, out=out, resume=resume,
                        reporter=reporter)
    outcome = gather(setup, request, spec, result, chip)
    if chip is not None:
        outcome = judge(setup, request, result, outcome, spec, chip, reporter)
    if distributed.is_main():  # rank 0 writes every output
        write_outputs(outcome, setup, chip, result, out=out, resume=resume, reporter=reporter)
    return outcome.to_json()
