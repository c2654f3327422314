"""``hwsim`` command line: estimate, compare, fit, chips, synthetic. Thin: parse, call the
library, print. Each command group is a module here that registers on the shared app
(:mod:`hwsim.cli.common`); importing them in this order fixes the order ``--help`` lists them.

Bad input files become one line ``error: <file>: <field>: <expected>`` on stderr and exit code 2.
"""

from __future__ import annotations

# registration order is the order `hwsim --help` lists the commands
# isort: off
from hwsim.cli import estimate as _estimate  # noqa: F401  (hwsim estimate)
from hwsim.cli import compare as _compare  # noqa: F401  (hwsim compare)
from hwsim.cli import fit as _fit  # noqa: F401  (hwsim fit)
from hwsim.cli import chips as _chips  # noqa: F401  (hwsim chips)
from hwsim.cli import synthetic as _synthetic  # noqa: F401  (hwsim synthetic)
# isort: on
from hwsim.cli.common import app
from hwsim.cli.compare import comparison_row
from hwsim.cli.report import tradeoff_verdict

__all__ = ["app", "comparison_row", "main", "tradeoff_verdict"]


def main() -> None:
    """Console-script entry point (``hwsim = "hwsim.cli:main"``)."""
    app()
