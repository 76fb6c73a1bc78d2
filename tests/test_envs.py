"""envs/*.yaml (conda, per rule group) agree with pyproject.toml's dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"matplotlib": "matplotlib-base"}  # PyPI name -> conda-forge name where they differ
NOT_IN_ENVS = {"snakemake", "pyyaml"}  # the workflow engine runs the envs; it is not inside them
TORCH_RULES_ONLY = {"torch", "lightning"}


def _pyproject() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project["dependencies"]]


def _env(path: Path) -> dict[str, str]:
    """Package -> pinned version of a conda env file, conda and pip sections together."""
    pins = {}
    for dep in yaml.safe_load(path.read_text())["dependencies"]:
        if isinstance(dep, dict):
            for pip_dep in dep.get("pip", []):
                name, version = re.split(r"==", pip_dep)
                pins[name.lower()] = version
        elif "=" in dep:
            name, version = dep.split("=", 1)
            pins[name.lower()] = version
    return pins


ENV_FILES = sorted((REPO / "envs").glob("*.yaml"))


def test_every_rule_env_exists():
    used = set()
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        used |= set(re.findall(r'conda:\s*\n\s*"\.\./\.\./(envs/[\w.]+)"', smk.read_text()))
    assert used == {f"envs/{p.name}" for p in ENV_FILES}


@pytest.mark.parametrize("env_file", ENV_FILES, ids=lambda p: p.name)
def test_env_pins_satisfy_pyproject(env_file):
    pins = _env(env_file)
    for requirement in _pyproject():
        name = requirement.name.lower()
        if name in NOT_IN_ENVS or (name in TORCH_RULES_ONLY and env_file.name != "torch.yaml"):
            continue
        conda_name = CONDA_NAMES.get(name, name)
        assert conda_name in pins, f"{env_file.name} lacks {conda_name} (pyproject: {requirement})"
        version = pins[conda_name]
        assert Version(version) in requirement.specifier, (
            f"{env_file.name}: {conda_name}={version} outside {requirement}"
        )
