"""Running a step inside a Snakemake job: logging to the rule's log, one-line errors."""

from __future__ import annotations

import logging
import sys
from typing import Callable

from omicsgen.errors import InputError


def run_step(log_file: str | None, step: Callable, *args, **kwargs) -> None:
    """Run ``step(*args, **kwargs)`` with logging to ``log_file`` and stderr.

    An :class:`~omicsgen.errors.InputError` is printed as one line,
    ``omicsgen: error: <message>``, to stderr and the log, and the process exits with
    status 1 (Snakemake then removes the job's outputs). Other exceptions propagate with
    their traceback: they are bugs, not bad input.

    Parameters
    ----------
    log_file
        Path of the rule's ``log:`` file, or None for stderr only.
    step
        A function of :mod:`omicsgen.steps`.
    """
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        handlers=handlers, force=True)
    logging.captureWarnings(True)
    try:
        step(*args, **kwargs)
    except InputError as err:
        line = f"omicsgen: error: {err}"
        if log_file:
            with open(log_file, "a") as handle:
                handle.write(line + "\n")
        print(line, file=sys.stderr, flush=True)
        sys.exit(1)
