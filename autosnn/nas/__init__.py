"""Spike-aware NAS: super-network training, Algorithm 1 search, retraining and evaluation.

Library API (the CLI commands ``supernet``/``search``/``train``/``eval`` are thin wrappers):

- stages: :func:`run_supernet`, :func:`run_search`, :func:`run_train`, :func:`run_eval`
  with :class:`DataSpec`, :class:`ModelSpec`, :class:`TrainConfig`, :class:`SearchRequest`,
  :class:`SearchConfig`, presets via :func:`get_preset`;
- search core (no networks, no data): :func:`run_search_core` (= ``evolution.run_search``),
  :func:`search_round`, :func:`mutate`, :func:`crossover`, :class:`SearchState`,
  :class:`Space`, :class:`CachedEvaluator`; an evaluator is ``Callable[[Sequence[Genotype]],
  list[Evaluation]]`` and a fitness ``Callable[[Evaluation], float]``
  (:func:`power_fitness`, :func:`linear_fitness`, :func:`accuracy_fitness`, or a chip cost);
- evaluation: :func:`evaluate`, :class:`SharedPrefixEvaluator`, :class:`NaiveEvaluator`;
- training: :func:`train_supernet`, :func:`fit`.
"""

from autosnn.nas.config import PRESETS, Preset, SearchConfig, TrainConfig, get_preset
from autosnn.nas.data import DataSpec, load_data
from autosnn.nas.evaluate import EvalResult, NaiveEvaluator, evaluate
from autosnn.nas.evolution import (
    CachedEvaluator,
    Evaluator,
    SearchState,
    Space,
    crossover,
    mutate,
    search_round,
)
from autosnn.nas.evolution import run_search as run_search_core
from autosnn.nas.fitness import (
    Evaluation,
    Fitness,
    accuracy_fitness,
    linear_fitness,
    make_fitness,
    power_fitness,
)
from autosnn.nas.outputs import extract_winner
from autosnn.nas.pipeline import (
    ModelSpec,
    SearchRequest,
    run_eval,
    run_search,
    run_supernet,
    run_train,
)
from autosnn.nas.shared_eval import SharedPrefixEvaluator
from autosnn.nas.supernet import train_supernet
from autosnn.nas.train import fit

__all__ = [
    "PRESETS",
    "CachedEvaluator",
    "DataSpec",
    "EvalResult",
    "Evaluation",
    "Evaluator",
    "Fitness",
    "ModelSpec",
    "NaiveEvaluator",
    "Preset",
    "SearchConfig",
    "SearchRequest",
    "SearchState",
    "SharedPrefixEvaluator",
    "Space",
    "TrainConfig",
    "accuracy_fitness",
    "crossover",
    "evaluate",
    "extract_winner",
    "fit",
    "get_preset",
    "linear_fitness",
    "load_data",
    "make_fitness",
    "mutate",
    "power_fitness",
    "run_eval",
    "run_search",
    "run_search_core",
    "run_supernet",
    "run_train",
    "search_round",
    "train_supernet",
]
