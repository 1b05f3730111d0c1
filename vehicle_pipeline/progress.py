"""Progress on a terminal for long CLI work (`demo`, `run`, `backfill`): steps done / total, rate and ETA, drawn
by `rich`; nothing at all when stderr is not a terminal (CI logs, pipes, `--json` scripts read plain lines)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


class Steps:
    """A handle on the bar: `advance()` after each step, `grow(n)` when more steps are discovered."""

    def __init__(self, progress=None, task=None):
        self._progress, self._task = progress, task

    def advance(self, label: str | None = None) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=1, **({"description": label} if label else {}))

    def grow(self, n: int) -> None:
        if self._progress is not None and n:
            total = self._progress.tasks[0].total or 0
            self._progress.update(self._task, total=total + n)


@contextmanager
def steps(description: str, total: int, *, stream=None) -> Iterator[Steps]:
    stream = stream or sys.stderr
    if not stream.isatty():
        yield Steps()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task) -> Text:
            return Text(f"{task.speed * 60:.1f}/min" if task.speed else "-/min")

    columns = (TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), Rate(),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    # log lines printed meanwhile scroll above the bar (rich redirects stdout and stderr while it draws)
    with Progress(*columns, console=Console(file=stream), transient=False) as progress:
        task = progress.add_task(description, total=total)
        yield Steps(progress, task)
