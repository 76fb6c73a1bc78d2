"""Every failure of a workflow step ends up in its rule's log: bad input as one line, a bug with its traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anndata as ad
import numpy as np


def _run_step(log: Path, step: str, *args: str) -> subprocess.CompletedProcess:
    code = f"from omicsgen.workflow import run_step; run_step({str(log)!r}, {step!r}, *{list(args)!r})"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_bad_input_is_one_line_in_the_log_and_on_stderr(tmp_path):
    log = tmp_path / "step.log"
    result = _run_step(log, "synthetic_vcf", str(tmp_path / "absent.h5ad"), str(tmp_path / "out.vcf.gz"))
    assert result.returncode == 1
    line = f"omicsgen: error: {tmp_path / 'absent.h5ad'}: file not found"
    assert line in log.read_text() and line in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.vcf.gz").exists()


def test_unexpected_failure_is_logged_with_its_traceback(tmp_path):
    # an AnnData without omicsgen's uns: a KeyError inside the step, not an input check
    data = tmp_path / "plain.h5ad"
    ad.AnnData(np.zeros((3, 2), dtype=np.float32)).write_h5ad(data)
    log = tmp_path / "step.log"
    result = _run_step(log, "synthetic_vcf", str(data), str(tmp_path / "out.vcf.gz"))
    assert result.returncode == 1
    text = log.read_text()
    assert "step synthetic_vcf failed" in text and "Traceback (most recent call last)" in text and "KeyError" in text
    assert result.stderr.count("Traceback (most recent call last)") == 1  # on stderr too, once


def test_a_job_reaches_its_step_under_the_names_the_step_takes():
    from types import SimpleNamespace

    from snakemake.iocontainers import Namedlist

    from omicsgen import steps
    from omicsgen.workflow import job_arguments

    class Job:  # a Snakemake script object may hand out a new container on every access
        input = Namedlist(fromdict={"input": "in.vcf.gz", "index": "in.vcf.gz.tbi", "sample_sheet": "s.tsv"})
        output = Namedlist(fromdict={"output": "out.h5ad"})
        threads = 2
        resources = SimpleNamespace(gpu=0, mem_mb=4000)

        @property
        def params(self):
            return Namedlist(fromdict={"preprocess": {"encoding": "dosage", "min_maf": 0.01}})

    job = Job()
    # the index is not a parameter of the step: left out; the params group is spread; threads from the job
    assert job_arguments(job, steps.preprocess_vcf) == {
        "input": "in.vcf.gz",
        "sample_sheet": "s.tsv",
        "output": "out.h5ad",
        "encoding": "dosage",
        "min_maf": 0.01,
        "threads": 2,
    }
    train = SimpleNamespace(
        input=Namedlist(fromdict={"input": "p.h5ad"}),
        output=Namedlist(fromdict={"checkpoint": "m.ckpt"}),
        params=Namedlist(fromdict={"family": "vae", "model": {"n_latent": 10}, "stream": "auto"}),
        threads=1,
        resources=SimpleNamespace(gpu=1, mem_mb=8000),
    )
    assert job_arguments(train, steps.train) == {
        "input": "p.h5ad",
        "checkpoint": "m.ckpt",
        "family": "vae",
        "model": {"n_latent": 10},
        "stream": "auto",
        "threads": 1,
        "gpus": 1,
        "mem_mb": 8000,
    }


def test_every_rule_runs_the_step_of_its_name():
    import re

    from omicsgen import steps
    from tests.conftest import REPO

    for path in (REPO / "workflow" / "rules").glob("*.smk"):
        text = path.read_text()
        for rule in re.findall(r"^rule (\w+):", text, flags=re.M):
            if rule == "all":
                continue
            assert callable(getattr(steps, rule, None)), f"{path.name}: rule {rule} has no omicsgen.steps.{rule}"
        assert set(re.findall(r'script:\s*\n\s*"([^"]+)"', text)) <= {"../../scripts/run_rule.py"}, path.name
