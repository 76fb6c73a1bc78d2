"""What made an output: input checksums, the config subset and package versions.

Stored under ``uns["omicsgen"]["provenance"]`` of every AnnData the workflow writes.
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path

PACKAGES = ("omicsgen", "anndata", "scanpy", "numpy", "scikit-learn", "torch", "lightning")


def sha256(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 checksum of a file, read in chunks of ``chunk_size`` bytes.

    A directory (a VCF Zarr store) is hashed as its files' relative paths and contents, in
    sorted order, so the same store gives the same checksum wherever it lies.
    """
    digest = hashlib.sha256()
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(chunk_size), b""):
                digest.update(chunk)
    return digest.hexdigest()


def package_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of ``packages`` (``"not installed"`` where absent) and Python's."""
    versions = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def provenance(inputs: dict[str, str | Path], params: dict) -> dict:
    """Build the provenance record of one output.

    Parameters
    ----------
    inputs
        Input role -> file path; each file is checksummed.
    params
        The config subset (rule params) that produced the output; stored as JSON text so
        that nested and ``None`` values survive the round trip through ``.h5ad``.

    Returns
    -------
    dict
        ``{"inputs": {role: {"path", "sha256"}}, "params_json": str, "versions": {...}}``.
    """
    return {
        "inputs": {role: {"path": str(p), "sha256": sha256(p)} for role, p in inputs.items()},
        "params_json": json.dumps(params, sort_keys=True, default=str),
        "versions": package_versions(),
    }
