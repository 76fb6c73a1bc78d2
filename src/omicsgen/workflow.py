"""Running a step inside a Snakemake job: logging to the rule's log, one-line errors."""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
from collections.abc import Callable

from omicsgen.errors import InputError

log = logging.getLogger("omicsgen")


def job_arguments(job, step: Callable) -> dict:
    """Keywords for ``step`` from a Snakemake job: what the step's signature names, nothing else.

    Named inputs, outputs and params under their own names; a dict-valued param whose name the
    step does not take is a group of keywords and is spread (a dataset's preprocessing
    settings); ``threads``, ``gpus`` (the ``gpu`` resource) and ``mem_mb`` from the job's
    resources. Wildcards reach a step as params (``family=lambda w: w.model``).
    """
    names = set(inspect.signature(step).parameters)
    kwargs = {}
    for section, groups in ((job.input, False), (job.output, False), (job.params, True)):
        for name, value in section.items():
            if name in names:
                kwargs[name] = value
            elif groups and isinstance(value, dict):
                kwargs.update(value)
    for name, value in (
        ("threads", job.threads),
        ("gpus", getattr(job.resources, "gpu", 0)),
        ("mem_mb", getattr(job.resources, "mem_mb", None)),
    ):
        if name in names:
            kwargs[name] = value
    return kwargs


def run_rule(job) -> None:
    """Run the step named like the job's rule (``omicsgen.steps.<rule>``) on the job's files, params and
    resources (:func:`job_arguments`), logging to the rule's log as :func:`run_step` does. Every rule's
    script is this call."""
    _run(job.log[0] if job.log else None, job.rule, lambda step: step(**job_arguments(job, step)))


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
    _run(log_file, step, lambda function: function(*args, **kwargs))


def _run(log_file: str | None, step: str, call: Callable) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", handlers=handlers, force=True
    )
    logging.captureWarnings(True)
    try:
        call(getattr(importlib.import_module("omicsgen.steps"), step))
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
