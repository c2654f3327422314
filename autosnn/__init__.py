"""autosnn: spike-aware neural architecture search for spiking neural networks.

Public API (kept stable): :func:`build`, :func:`build_model`, :func:`build_supernet`,
:func:`save`, :func:`load`, plus the registries :func:`list_spaces`, :func:`list_blocks`,
:func:`list_zoo`.
"""

from autosnn.blocks import list_blocks
from autosnn.build import build, build_model, build_supernet, from_config
from autosnn.checkpoint import load, save
from autosnn.network import ArchConfig, SpikingNet
from autosnn.spaces import get_space, list_spaces
from autosnn.zoo import list_zoo

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
