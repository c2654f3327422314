"""Progress bars (rich) with loss, accuracy, spikes, elapsed time and an ETA; plain log lines when
not on a terminal."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Reporter:
    """Thin wrapper over ``rich.progress``: one bar per epoch / search round, metrics in the text.

    ``quiet`` silences everything (tests, library use).
    """

    def __init__(self, *, quiet: bool = False, console: Console | None = None) -> None:
        self.quiet = quiet
        self.console = console or Console(stderr=True)
        self._progress: Progress | None = None
        self._bars = not quiet and sys.stderr.isatty()

    def start(self, title: str, total: int) -> int | None:
        if not self._bars:
            return None
        if self._progress is None:
            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[metrics]}"), TimeElapsedColumn(),
                TextColumn("ETA"), TimeRemainingColumn(),
                console=self.console, transient=True,
            )
            self._progress.start()
        return self._progress.add_task(title, total=total, metrics="")

    def advance(self, task: int | None, **metrics: float) -> None:
        if self._progress is None or task is None:
            return
        text = "  ".join(_fmt(k, v) for k, v in metrics.items())
        self._progress.update(TaskID(task), advance=1, metrics=text)

    def finish(self, task: int | None) -> None:
        if self._progress is not None and task is not None:
            self._progress.remove_task(TaskID(task))

    def log(self, message: str) -> None:
        if self.quiet:
            return
        if self._progress is not None:
            self._progress.console.print(message, highlight=False)
        else:
            self.console.print(message, highlight=False)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def _fmt(key: str, value: float) -> str:
    if key == "acc":
        return f"acc {100 * value:.1f}%"
    if key == "spikes":
        return f"spikes {value:,.0f}"
    return f"{key} {value:.4f}"
