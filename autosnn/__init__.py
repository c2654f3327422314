"""autosnn: spike-aware neural architecture search for spiking neural networks.

Public API (kept stable): :func:`build`, :func:`build_model`, :func:`build_supernet`,
:func:`save`, :func:`load`, plus the registries :func:`list_spaces`, :func:`list_blocks`,
:func:`list_zoo`.
"""

from autosnn.core.blocks import list_blocks
from autosnn.core.build import build, build_model, build_supernet, from_config
from autosnn.core.checkpoint import load, save
from autosnn.core.network import ArchConfig, SpikingNet
from autosnn.core.spaces import get_space, list_spaces
from autosnn.core.zoo import list_zoo

__all__ = [
    "ArchConfig",
    "SpikingNet",
    "build",
    "build_model",
    "build_supernet",
    "from_config",
    "get_space",
    "list_blocks",
    "list_spaces",
    "list_zoo",
    "load",
    "save",
]
__version__ = "0.1.0"
