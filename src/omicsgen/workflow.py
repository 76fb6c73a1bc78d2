"""Running a step inside a Snakemake job: logging to the rule's log, one-line errors."""

from __future__ import annotations

import importlib
import logging
import sys

from omicsgen.errors import InputError

log = logging.getLogger("omicsgen")


def run_step(log_file: str | None, step: str, *args, **kwargs) -> None:
    """Run ``omicsgen.steps.<step>(*args, **kwargs)`` with logging to ``log_file`` and stderr.

    Every failure ends up in the rule's log as well as on stderr. An
    :class:`~omicsgen.errors.InputError` is printed as one line,
    ``omicsgen: error: <message>``, and the process exits with status 1 (Snakemake then
    removes the job's outputs). Any other exception, an import error included (the steps
    module is imported here, after logging is set up), is logged with its traceback and
    the process exits with status 1: it is a bug, not bad input.

    Parameters
    ----------
    log_file
        Path of the rule's ``log:`` file, or None for stderr only.
    step
        Name of a function of :mod:`omicsgen.steps`.
    """
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", handlers=handlers, force=True
    )
    logging.captureWarnings(True)
    try:
        getattr(importlib.import_module("omicsgen.steps"), step)(*args, **kwargs)
    except InputError as err:
        line = f"omicsgen: error: {err}"
        if log_file:
            with open(log_file, "a") as handle:
                handle.write(line + "\n")
        print(line, file=sys.stderr, flush=True)
        sys.exit(1)
    except Exception:
        log.exception("omicsgen: step %s failed (a bug, not bad input: please report it with this log)", step)
        sys.exit(1)
