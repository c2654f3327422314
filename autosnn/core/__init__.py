from autosnn.core import speck  # noqa: F401  (registers the Speck neuron, blocks and space)
