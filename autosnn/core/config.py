"""Typed settings of the NAS stages and the two presets (``quick`` and ``paper``).

Every stage takes one frozen dataclass; the CLI fills them from a preset and then applies the
options the user gave explicitly. Nothing downstream reads loose keyword dictionaries.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from autosnn.core.errors import AutosnnError
from autosnn.core.registry import Registry
from autosnn.core.runtime import PRECISIONS

# Evaluation batch size (no gradients, so larger than the training batch): every evaluation
# (search candidates, test accuracy, ``autosnn eval``) defaults to it.
EVAL_BATCH_SIZE = 256
# The paper's "AutoSNN" trade-off (Table 2): the default lambda of a spike-aware search.
PAPER_LAMBDA = -0.08
# The paper's timesteps (A.1): 8 for static images, 20 for event streams (a data set's default).
STATIC_TIMESTEPS = 8
EVENT_TIMESTEPS = 20
# The paper's channel count C (A.1; the ``paper`` preset's and every builder's default).
PAPER_CHANNELS = 16
# Algorithm 1, or random search with the same budget.
SEARCH_METHODS = ("evolution", "random")


@dataclass(frozen=True)
class TrainConfig:
    """Direct training of a spiking network (super-network or a retrained architecture).

    Loss: MSE between the voting layer's firing rates and the one-hot label; Adam with ``lr``,
    betas (0.9, 0.999), no weight decay, no schedule (paper). Augmentation: pad ``crop_pad`` +
    random crop, horizontal flip (where the dataset allows), cutout of side ``cutout`` (0 = off).
    ``spike_reg`` (beta >= 0) adds ``beta * mean_l(mean spikes of layer l)`` to the loss
    (Pellegrini et al. 2021). The defaults are the paper's settings (A.1): the ``paper`` preset
    uses them as they are.
    """

    epochs: int = 600
    batch_size: int = 96
    lr: float = 1e-3
    seed: int = 0
    crop_pad: int = 4
    flip: bool = True
    cutout: int = 0
    spike_reg: float = 0.0
    precision: str = "fp32"
    device: str = "cpu"
    eval_batch_size: int = EVAL_BATCH_SIZE
    # quantisation-aware training for a chip (autosnn.train.quantize: e.g. "loihi2"), over the
    # last ``quantize_epochs`` epochs (None: the whole run)
    quantize: str | None = None
    quantize_epochs: int | None = None

    def __post_init__(self) -> None:
        if self.epochs < 0:
            raise AutosnnError(f"--epochs must be >= 0, got {self.epochs}")
        if self.batch_size < 1 or self.eval_batch_size < 1:
            raise AutosnnError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.lr <= 0:
            raise AutosnnError(f"learning rate must be > 0, got {self.lr}")
        if self.spike_reg < 0:
            raise AutosnnError(f"--spike-reg must be >= 0, got {self.spike_reg}")
        if self.quantize_epochs is not None and self.quantize_epochs < 1:
            raise AutosnnError(f"--quantize-epochs must be >= 1, got {self.quantize_epochs}")
        if self.precision not in PRECISIONS:
            raise AutosnnError(
                f"--precision {self.precision!r}: expected one of {', '.join(PRECISIONS)}"
            )


@dataclass(frozen=True)
class SearchConfig:
    """Evolutionary search (Algorithm 1) or random search with the same budget.

    Per round ``pool_size`` architectures are evaluated: after round 1 (random), ``mutations``
    children of top-k parents (each slot resampled to a different candidate with probability
    ``mutation_prob``), ``crossovers`` children of two distinct top-k parents (one cut), then
    random ones to fill the pool. An architecture is never evaluated twice in one search; each
    child is tried at most ``max_tries`` times before the pool is filled randomly.
    """

    rounds: int = 10
    pool_size: int = 20
    top_k: int = 10
    mutations: int = 10
    crossovers: int = 10
    mutation_prob: float = 0.2
    max_tries: int = 50
    method: str = "evolution"  # or "random"

    def __post_init__(self) -> None:
        if self.rounds < 1 or self.pool_size < 1 or self.top_k < 1:
            raise AutosnnError("rounds, pool size and top-k must be >= 1")
        if self.mutations < 0 or self.crossovers < 0:
            raise AutosnnError("mutations and crossovers must be >= 0")
        if self.mutations + self.crossovers > self.pool_size:
            raise AutosnnError(
                f"mutations + crossovers ({self.mutations} + {self.crossovers}) exceed the "
                f"evaluation pool ({self.pool_size})"
            )
        if not 0.0 <= self.mutation_prob <= 1.0:
            raise AutosnnError(f"mutation probability must be in [0, 1], got {self.mutation_prob}")
        if self.max_tries < 1:
            raise AutosnnError(f"max_tries must be >= 1, got {self.max_tries}")
        if self.method not in SEARCH_METHODS:
            raise AutosnnError(
                f"search method {self.method!r}: expected one of {', '.join(SEARCH_METHODS)}"
            )

    @property
    def budget(self) -> int:
        """Architectures evaluated per search (random search gets the same number)."""
        return self.rounds * self.pool_size


@dataclass(frozen=True)
class Preset:
    """Defaults of one preset; explicit CLI options override them.

    ``train_limit``/``val_limit``/``test_limit`` cap the samples used per split (None = all).
    """

    name: str
    channels: int
    timesteps: int | None  # None: the dataset's default (STATIC_TIMESTEPS, EVENT_TIMESTEPS)
    supernet: TrainConfig
    retrain: TrainConfig
    search: SearchConfig = field(default_factory=SearchConfig)
    train_limit: int | None = None
    val_limit: int | None = None
    test_limit: int | None = None
    lambdas: tuple[float, ...] = (PAPER_LAMBDA,)
    # ``--lambda auto`` (the default with ``--chip``) sweeps these on one super-network
    lambda_grid: tuple[float, ...] = (0.0, -0.04, -0.08, -0.16, -0.24, -0.32)
    fitness: str = "power"
    eval_batch_size: int = EVAL_BATCH_SIZE


# The paper's settings (A.1) are TrainConfig's and SearchConfig's defaults, stated once there.
PAPER = Preset(
    name="paper",
    channels=PAPER_CHANNELS,
    timesteps=None,
    supernet=TrainConfig(),
    retrain=TrainConfig(cutout=16),
)

# Sized so each stage takes a few minutes on a 2-core CPU (see docs/nas.md for measurements).
# No crop or cutout: in 3 epochs augmentation costs more than it gives (the demo's winner
# retrained on all 60,000 Fashion-MNIST images: 84.2 % with the paper's crop + cutout, 84.0 %
# with crop only, 87.4 % with neither, on the 10,000 test images).
QUICK = Preset(
    name="quick",
    channels=8,
    timesteps=4,
    supernet=TrainConfig(epochs=3, batch_size=32, crop_pad=0),
    retrain=TrainConfig(epochs=3, batch_size=32, crop_pad=0),
    train_limit=6000,
    val_limit=400,
    test_limit=1000,
)

PRESETS: Registry[Preset] = Registry("preset")
for _preset in (QUICK, PAPER):
    PRESETS.add(_preset.name, _preset)


def get_preset(name: str) -> Preset:
    """Look a preset up by name."""
    return PRESETS.get(name)


def override(cfg, **changes):
    """``dataclasses.replace`` with the ``None`` values (options not given) dropped."""
    return replace(cfg, **{k: v for k, v in changes.items() if v is not None})
