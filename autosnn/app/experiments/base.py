"""What every experiment shares: its settings, sub-runs that resume, the report and the plot.

An experiment (one of the paper's tables) is a function of an :class:`ExperimentContext`. It asks
the context for sub-runs (:meth:`~ExperimentContext.train`, :meth:`~ExperimentContext.supernet`,
:meth:`~ExperimentContext.search`), each in its own folder under ``ROOT/runs/<data>-<preset>/``;
a sub-run whose outputs exist and whose recorded request equals the current one is reused, so an
interrupted experiment picks up where it stopped and experiments share sub-runs (table 9's SNN_1
with SCB_k3 is table 1's). The sub-runs call :mod:`autosnn.app.pipeline`, which trains on every
rank under ``torchrun``; only rank 0 writes the reports.
"""

from __future__ import annotations

import json
import os
import platform
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import overload

from autosnn.app.experiments.results import read_result
from autosnn.app.pipeline import (
    ModelSpec,
    SearchRequest,
    run_eval,
    run_search,
    run_supernet,
    run_train,
)
from autosnn.core.config import Preset, SearchConfig, TrainConfig, get_preset, override
from autosnn.core.errors import AutosnnError
from autosnn.core.progress import Reporter
from autosnn.core.runtime import resolve_device
from autosnn.data.spec import DataSpec
from autosnn.train import distributed
from safeio import atomic_save, write_json, write_text

REQUEST_FILE = "experiment-request.json"
RESULT_FILE = "experiment-result.json"

# One point of a scatter: label, accuracy (%), spikes per image. None is allowed in the type
# because the paper's rows have gaps (PaperRow), but a plotted point needs both numbers.
Point = tuple[str, float | None, float | None]


@dataclass(frozen=True)
class PaperRow:
    """One published result: ``label`` as in the paper, accuracy in %, spikes per image."""

    label: str
    accuracy: float | None
    spikes: float | None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    """How to run an experiment: data, preset, output root and the overrides tests use."""

    root: Path
    dataset: str | None = None
    data_dir: str | None = None
    preset: str = "quick"
    seed: int = 0
    device: str = "auto"
    epochs: int | None = None  # overrides both training stages
    limit: int | None = None  # caps every split
    channels: int | None = None
    timesteps: int | None = None
    rounds: int | None = None  # search rounds
    pool: int | None = None  # evaluation pool (mutations and crossovers scale with it)
    quiet: bool = True


@dataclass
class SubRun:
    """What one sub-run produced and how long it took (recorded, so reused runs report theirs)."""

    name: str
    folder: Path
    result: dict
    seconds: float
    reused: bool


class ExperimentContext:
    """Settings resolved against the preset, plus sub-runs that are reused when finished."""

    def __init__(self, settings: Settings, name: str) -> None:
        self.settings = settings
        self.name = name
        self.preset: Preset = get_preset(settings.preset)
        p, s = self.preset, settings
        self.channels = s.channels or p.channels
        self.timesteps = s.timesteps if s.timesteps is not None else p.timesteps
        data_tag = _slug(s.dataset or "fashion-mnist")
        self.runs = s.root / "runs" / f"{data_tag}-{p.name}-s{s.seed}"
        self.report_dir = s.root / name
        # join torchrun's process group now, so that rank 0 alone decides and writes from the
        # first sub-run on (the pipeline's training and search then use every rank)
        distributed.init(resolve_device(s.device))
        self.reporter = Reporter(quiet=s.quiet or not distributed.env_info().is_main)
        self.subruns: list[SubRun] = []
        self.started = time.perf_counter()

    # -- settings ---------------------------------------------------------------------------
    def data(self, timesteps: int | None = None) -> DataSpec:
        p, s = self.preset, self.settings
        lim = s.limit
        return DataSpec(
            dataset=s.dataset, data_dir=s.data_dir, seed=s.seed,
            train_limit=lim if lim is not None else p.train_limit,
            val_limit=lim if lim is not None else p.val_limit,
            test_limit=lim if lim is not None else p.test_limit,
            timesteps=timesteps if timesteps is not None else self.timesteps,
        )

    def train_config(self, base: TrainConfig, **changes: object) -> TrainConfig:
        s = self.settings
        return override(base, epochs=s.epochs, seed=s.seed, device=s.device, **changes)

    def search_config(self, method: str = "evolution") -> SearchConfig:
        s, cfg = self.settings, self.preset.search
        if s.pool is not None:
            half = s.pool // 2
            cfg = replace(cfg, pool_size=s.pool, top_k=max(1, half), mutations=half,
                          crossovers=half)
        return override(cfg, rounds=s.rounds, method=method)

    # -- sub-runs ---------------------------------------------------------------------------
    def _run(self, name: str, request: dict, done_file: str,
             work: Callable[[Path, bool], dict]) -> SubRun:
        """Reuse ``runs/name`` when ``done_file`` exists and the recorded request matches;
        otherwise run ``work(folder, resume)`` (resume when a same-request run was cut short)."""
        folder = self.runs / name
        text = json.dumps(request, sort_keys=True, default=str)

        def decide() -> tuple[bool, bool]:
            req = folder / REQUEST_FILE
            same = req.is_file() and req.read_text().strip() == text
            # a run cut short between its own outputs and the result record is resumed
            return same and (folder / done_file).is_file() and (folder / RESULT_FILE).is_file(), same

        done, same = distributed.broadcast_from_main(decide)
        if done:
            result, seconds = read_result(folder / RESULT_FILE, str(request["kind"]))
            sub = SubRun(name, folder, result, seconds, True)
            self.reporter.log(f"[{self.name}] reusing {folder}")
        else:
            if distributed.is_main():
                folder.mkdir(parents=True, exist_ok=True)
                write_text(folder / REQUEST_FILE, text + "\n")
            distributed.barrier()
            self.reporter.log(f"[{self.name}] running {name}" + (" (resuming)" if same else ""))
            start = time.perf_counter()
            result = work(folder, same)
            sub = SubRun(name, folder, result, time.perf_counter() - start, False)
            if distributed.is_main():
                write_json(folder / RESULT_FILE,
                           {"result": result, "seconds": sub.seconds})
        self.subruns.append(sub)
        return sub

    def train(self, name: str, model: ModelSpec, *, spike_reg: float = 0.0) -> SubRun:
        """Retrain ``model`` from scratch on the whole training set (the paper's A.1.3) and
        test it."""
        model = replace(model, timesteps=model.timesteps or self.timesteps)
        data = self.data(model.timesteps)
        cfg = self.train_config(self.preset.retrain, spike_reg=spike_reg)
        request = {"kind": "train", "model": asdict(model), "data": data.to_dict(),
                   "train": asdict(cfg), "full_train": True}

        def work(folder: Path, resume: bool) -> dict:
            summary = run_train(data=data, model=model, train=cfg, out=folder, resume=resume,
                                reporter=self.reporter)
            return {"accuracy": summary["test_accuracy"], "spikes": summary["test_spikes"],
                    "samples": summary["test_samples"], "params": _params(folder / "model.pt")}

        return self._run(name, request, "train.json", work)

    def firing_rate(self, trained: SubRun) -> SubRun:
        """Mean firing rate on the test split (spikes / (spiking neurons x T), Table 9) of a
        retrained network: its own small sub-run, so the training is shared with other tables."""
        data = self.data()
        request = {"kind": "firing-rate", "of": trained.name, "data": data.to_dict(),
                   "trained_seconds": trained.seconds}

        def work(folder: Path, resume: bool) -> dict:
            res = run_eval(checkpoint=trained.folder / "model.pt", data=data,
                           device=self.settings.device, batch_size=self.preset.eval_batch_size)
            neurons = sum(res.neurons.values())
            return {"firing_rate": res.spikes / (neurons * res.timesteps) if neurons else None,
                    "per_layer": res.firing_rate}

        return self._run(f"{trained.name}-firing-rate", request, RESULT_FILE, work)

    def supernet(self, name: str, space: str, *, neuron: str = "plif") -> SubRun:
        """Train the super-network of ``space`` on D_train."""
        data = self.data()
        cfg = self.train_config(self.preset.supernet)
        model = ModelSpec(space=space, channels=self.channels, neuron=neuron)
        request = {"kind": "supernet", "model": asdict(model), "data": data.to_dict(),
                   "train": asdict(cfg)}

        def work(folder: Path, resume: bool) -> dict:
            res = run_supernet(data=data, model=model, train=cfg, out=folder,
                               resume=resume and (folder / "supernet-state.pt").exists(),
                               reporter=self.reporter)
            return {"checkpoint": str(folder / "supernet.pt"), "spikes_avg": res.spikes_avg}

        return self._run(name, request, "supernet-timing.json", work)

    def search(self, name: str, supernet: SubRun, lambdas: Sequence[float], *,
               fitness: str = "power", method: str = "evolution") -> SubRun:
        """Search ``supernet`` for each lambda (Algorithm 1 or random search, same budget)."""
        cfg = self.search_config(method)
        request_ = SearchRequest(
            lambdas=tuple(lambdas), fitness=fitness, config=cfg, seed=self.settings.seed,
            eval_batch_size=self.preset.eval_batch_size, precision=self.preset.retrain.precision,
            device=self.settings.device,
        )
        ckpt = Path(supernet.result["checkpoint"])
        request = {"kind": "search", "supernet": str(ckpt),
                   "supernet_seconds": supernet.seconds, "lambdas": list(lambdas),
                   "fitness": fitness, "config": asdict(cfg)}

        def work(folder: Path, resume: bool) -> dict:
            doc = run_search(supernet=ckpt, request=request_, out=folder,
                             resume=resume and (folder / "search-state.json").exists(),
                             reporter=self.reporter)
            return {"winners": doc["winners"], "evaluated": doc["evaluated"],
                    "candidates": [{k: e[k] for k in ("genotype", "accuracy", "spikes")}
                                   for e in doc["candidates_evaluated"]]}

        return self._run(name, request, "search.json", work)

    def winner_model(self, search: SubRun, lam_key: str) -> ModelSpec:
        w = search.result["winners"][lam_key]
        return ModelSpec(space=w["space"], channels=int(w["channels"]),
                         timesteps=int(w["timesteps"]), genotype=w["genotype"])

    # -- reporting --------------------------------------------------------------------------
    def compute_seconds(self) -> float:
        """Seconds of every sub-run this experiment used (reused ones: as recorded)."""
        return sum(s.seconds for s in {s.folder: s for s in self.subruns}.values())

    def write_report(self, *, title: str, table_no: str, header: Sequence[str],
                     rows: Sequence[Sequence[object]], notes: Sequence[str] = (),
                     command: str | None = None, plot: Path | None = None,
                     extra_tables: Sequence[tuple[str, Sequence[str], Sequence[Sequence[object]]]] = ()
                     ) -> Path:
        """``ROOT/NAME/NAME.md`` (rank 0 only): the table, settings, seed, times, machine."""
        path = self.report_dir / f"{self.name}.md"
        if not distributed.is_main():
            return path
        self.report_dir.mkdir(parents=True, exist_ok=True)
        s, p = self.settings, self.preset
        wall = time.perf_counter() - self.started
        lines = [f"# {title} (paper {table_no})", ""]
        lines += _md_table(header, rows)
        for sub_title, sub_header, sub_rows in extra_tables:
            lines += ["", f"**{sub_title}**", "", *_md_table(sub_header, sub_rows)]
        lines += ["", "## Settings", ""]
        data = self.data()
        lines += [
            f"- data: {s.dataset or 'fashion-mnist'}; super-network on D_train "
            f"(cap {data.train_limit}), search on D_val (cap {data.val_limit}); retraining on "
            f"the whole training set D_train + D_val (cap {data.train_limit}); test cap "
            f"{data.test_limit}",
            f"- preset {p.name}: C = {self.channels}, T = {self.timesteps or 'dataset default'}, "
            f"super-network {self.train_config(p.supernet).epochs} epochs, retraining "
            f"{self.train_config(p.retrain).epochs} epochs, batch {p.retrain.batch_size}, "
            f"search {self.search_config().rounds} rounds x {self.search_config().pool_size}",
            f"- seed {s.seed}; device {s.device}",
            f"- wall time of this invocation: {_hms(wall)}; compute of the sub-runs used "
            f"(reused ones as recorded): {_hms(self.compute_seconds())}; "
            f"{sum(x.reused for x in self.subruns)} of {len(self.subruns)} sub-runs reused",
            f"- machine: {machine()}",
            "- the paper's numbers: CIFAR-10, C = 16, T = 8, 600 epochs (A.1); ours are not "
            "comparable in absolute value, only in direction",
        ]
        if command:
            lines += [f"- command: `{command}`"]
        if plot is not None:
            lines += ["", f"![{self.name}]({plot.name})"]
        if notes:
            lines += ["", "## Notes", "", *[f"- {n}" for n in notes]]
        write_text(path, "\n".join(lines) + "\n")
        write_json(self.report_dir / f"{self.name}.json", {
            "title": title, "table": table_no, "header": list(header),
            "rows": [list(map(_jsonable, r)) for r in rows],
            "settings": {k: str(v) for k, v in asdict(s).items()},
            "wall_seconds": wall, "compute_seconds": self.compute_seconds(),
            "subruns": [{"name": x.name, "seconds": x.seconds, "reused": x.reused,
                         "result": {k: v for k, v in x.result.items() if k != "candidates"}}
                        for x in self.subruns],
            "machine": machine(),
        })
        return path

    def scatter(self, file: str, ours: Sequence[Point], paper: Sequence[Point], title: str,
                background: Sequence[tuple[float, float]] = (),
                ours_y: str = "test accuracy (%)") -> Path | None:
        """Accuracy vs spikes, ours beside the paper's (the style of its Figures 1 and 4)."""
        path = self.report_dir / file
        if not distributed.is_main():
            return path
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        self.report_dir.mkdir(parents=True, exist_ok=True)
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
        panels = ((axes[0], ours, f"measured: {self.settings.dataset or 'fashion-mnist'}, "
                   f"{self.preset.name} preset"), (axes[1], paper, "paper: CIFAR-10"))
        for ax, points, sub in panels:
            if background and ax is axes[0]:
                ax.scatter([b[0] / 1e3 for b in background], [100 * b[1] for b in background],
                           s=8, c="lightgray", label="search candidates (inherited weights, D_val)")
            for i, (label, acc, spikes) in enumerate(points):
                if acc is None or spikes is None:
                    # matplotlib fails on a None coordinate too (TypeError); this one names it
                    raise TypeError(f"scatter point {label!r} needs accuracy and spikes, got "
                                    f"{acc!r} and {spikes!r}")
                ax.scatter(spikes / 1e3, acc, s=40, color=f"C{i % 10}")
                ax.annotate(label, (spikes / 1e3, acc), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
            ax.set_xlabel("spikes per image (K)")
            ax.set_ylabel(ours_y if ax is axes[0] else "test accuracy (%)")
            ax.set_title(sub, fontsize=9)
            ax.grid(alpha=0.3)
            if background and ax is axes[0]:
                ax.legend(fontsize=7, loc="lower right")
        fig.suptitle(title)
        fig.tight_layout()
        atomic_save(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
        plt.close(fig)
        return path


def _params(path: Path) -> float | None:
    """Trainable parameters of a checkpoint, in millions (Table 3's column)."""
    import autosnn

    if not path.is_file():
        return None
    net = autosnn.load(path)
    return sum(p.numel() for p in net.parameters() if p.requires_grad) / 1e6


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def _jsonable(x: object) -> object:
    return x if isinstance(x, (int, float, str, type(None))) else str(x)


def _hms(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min {s:02d} s" if h else f"{m} min {s:02d} s"


def _md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        lines.append("| " + " | ".join(fmt(x) for x in r) + " |")
    return lines


def fmt(x: object) -> str:
    """Table cell: None -> '-', floats to two decimals."""
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.2f}"
    return str(x)


@overload
def acc(x: float) -> float: ...
@overload
def acc(x: None) -> None: ...
def acc(x: float | None) -> float | None:
    """Fraction -> percent."""
    return None if x is None else 100.0 * x


def kspikes(x: float | None) -> str:
    """Spikes per image as the paper writes them (154K); small counts keep a decimal."""
    if x is None:
        return "-"
    if x < 1e3:
        return f"{x:.0f}"
    return f"{x / 1e3:.0f}K" if x >= 1e4 else f"{x / 1e3:.1f}K"


def machine() -> str:
    """CPU model and cores (or the CUDA device) this process ran on."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{cpu}, {os.cpu_count()} cores visible, torch {torch.__version__}, " \
           f"{torch.get_num_threads()} threads"
    if torch.cuda.is_available():
        text += f"; CUDA {torch.cuda.get_device_name(0)}"
    world = distributed.info().world
    if world > 1:
        text += f"; {world} torchrun ranks"
    return text


def check_settings(settings: Settings) -> None:
    """One-line errors for options that cannot work (the CLI turns them into exit code 2)."""
    for key in ("epochs", "limit", "channels", "timesteps", "rounds", "pool"):
        v = getattr(settings, key)
        if v is not None and v < (0 if key == "epochs" else 1):
            raise AutosnnError(f"--{key} must be >= {0 if key == 'epochs' else 1}, got {v}")
    resolve_device(settings.device)
