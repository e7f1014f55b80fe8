"""Progress over the named steps of a long command: shared by the setup pipeline and the command
line, and light to import (tqdm only), so that a command that only proves loads nothing else."""

from __future__ import annotations

import contextlib

from tqdm import tqdm


@contextlib.contextmanager
def step_progress(desc: str, total: int, *, disable: bool | None = None, file=None):
    """A progress bar over ``total`` named steps (``disable=None``: shown on a terminal only);
    yields a function to call as each step starts."""
    bar = tqdm(total=total, desc=desc, unit="step", disable=disable, leave=False, file=file)
    started: list[str] = []

    def start(name: str) -> None:
        if started:
            bar.update()
        started.append(name)
        bar.set_postfix_str(name)

    try:
        yield start
        bar.update()
    finally:
        bar.close()
