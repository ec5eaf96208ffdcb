"""SIGTERM stops like Ctrl-C: a killed job or a scheduler's stop ends a run cleanly, checkpoint kept."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

# The shell's code for a process stopped by Ctrl-C (128 + SIGINT), which a clean stop exits with.
INTERRUPTED_EXIT_CODE = 128 + signal.SIGINT


@contextmanager
def sigterm_as_keyboard_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt; the previous handler returns afterwards."""

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
