"""Shared fixtures: deterministic seeds and helpers that make untrained networks spike."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """Tiny tensors: one intra-op thread is faster than two (and far faster on a busy machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _seed() -> None:
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


# Compiling the neuron kernel costs 20-40 s per process: tests (and the CLI subprocesses they
# start, which inherit the environment) use the eager kernel, which computes the same thing.
os.environ.setdefault("AUTOSNN_COMPILE", "0")
