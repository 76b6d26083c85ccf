"""A papers-per-second display on stderr while a source is being read (only when stderr is a terminal)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def paper_progress(description: str) -> Iterator[Callable[[int], None] | None]:
    """Yield a callback taking the number of papers so far, or None when stderr is not a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}: {task.completed} papers"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=None, rate="")

        def update(count: int) -> None:
            speed = bar.tasks[0].speed
            bar.update(task, completed=count, rate=f"{speed:.0f} papers/s" if speed else "")

        yield update
