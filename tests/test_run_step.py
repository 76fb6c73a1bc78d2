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
