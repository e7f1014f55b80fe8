"""Progress over the named steps of a long command: shared by the setup pipeline and the command
line, and light to import: tqdm itself is imported only when a bar is shown (on a terminal), so
that a command run by a script or a server loads nothing for it."""

from __future__ import annotations

import contextlib
import sys


@contextlib.contextmanager
def step_progress(desc: str, total: int, *, disable: bool | None = None, file=None):
    """A progress bar over ``total`` named steps (``disable=None``: shown on a terminal only);
    yields a function to call as each step starts."""
    stream = sys.stderr if file is None else file
    shown = (not disable) if disable is not None else bool(getattr(stream, "isatty", lambda: False)())
    if not shown:
        yield lambda name: None
        return
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="step", leave=False, file=file)
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
