"""Wall time and peak memory of every stage as the data grow: cells and genotypes.

Usage: python benchmarks/scale.py --workdir DIR [--cells 10000 100000 1000000] [--genes 2000]
       [--samples 1000 10000] [--snps 100000] [--epochs 1] [--threads 2] [--plot benchmarks/scale.png]

Single cells: counts of ``--genes`` genes drawn from pbmc68k's cell-type profiles
(:func:`omicsgen.datasets.pbmc_like_counts`), written as ``.h5ad``, then the workflow's steps
(:mod:`omicsgen.steps`) in order: ``preprocess_h5ad`` (all genes kept), ``train`` (VAE, a
fixed budget of ``--epochs`` epochs, the matrix in memory), ``train_streamed`` (the same, batches
read from the file: ``stream=True``), ``latent`` (with UMAP), ``synthesize`` (100 cells per
label), ``evaluate`` (the VAE: latent and synthetic cells, the config's defaults),
``evaluate_real`` (the ``real`` control). Genotypes: an unphased, bgzipped, indexed VCF of ``--samples`` x
``--snps`` biallelic sites (allele frequencies uniform on 0.01-0.5, 1% missing), then
``preprocess_vcf`` with one process (no worker processes, so the peak is the whole job's).
Every stage runs in its own process; its wall time and peak resident memory (``ru_maxrss``
of that process, from ``os.wait4``) are printed as one TSV row and appended to
``DIR/scale.tsv``. Generation is timed apart and not counted. ``--plot`` draws every row of
``DIR/scale.tsv`` (time and memory against size, log-log, one line per stage).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

COLUMNS = ["data", "size", "stage", "wall_s", "peak_rss_mb"]


def run_stage(args: list[str], log: Path) -> tuple[float, float]:
    """Run ``python <args>`` in a fresh process; returns (wall seconds, peak RSS in MB) of that process.

    Data are generated in child processes too: a child's ``ru_maxrss`` starts at its parent's
    resident size when it was forked, so this process must stay small.
    """
    start = time.perf_counter()
    with open(log, "w") as handle:
        proc = subprocess.Popen([sys.executable, *args], stdout=handle, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"stage failed, see {log}")
    return wall, usage.ru_maxrss / 1024


def step_code(step: str, **kwargs) -> list[str]:
    """Python arguments that run ``omicsgen.steps.<step>(**kwargs)`` with logging."""
    return ["-c", f"from omicsgen.workflow import run_step; run_step(None, {step!r}, **{kwargs!r})"]


def cell_stages(path: Path, out: Path, epochs: int, threads: int) -> dict[str, list[str]]:
    """Stage name -> code, for one generated ``.h5ad`` (dicts keep this order: each stage reads the last's output)."""
    pre, model = str(out / "preprocessed.h5ad"), out / "vae"
    vae = {
        "n_latent": 10,
        "n_hidden": 128,
        "n_layers": 1,
        "dropout": 0.1,
        "lr": 1e-2,
        "weight_decay": 1e-6,
        "kl_warmup_epochs": 1,
        "lr_plateau_patience": 10,
        "conditional_decoder": False,
        "batch_size": 128,
        "max_epochs": epochs,
        "patience": 30,
    }
    split = {"val_fraction": 0.1, "test_fraction": 0.2, "seed": 0}
    return {
        "preprocess": step_code(
            "preprocess_h5ad",
            input=str(path),
            output=pre,
            layer=None,
            label_key="cell_type",
            n_top_genes=10**9,
            likelihood="auto",
            values="auto",
            **split,
        ),
        "train": _train_code(pre, model, vae, threads, stream=False),
        "train_streamed": _train_code(pre, out / "vae_streamed", vae, threads, stream=True),
        "latent": step_code(
            "latent",
            real=pre,
            checkpoint=str(model / "model.ckpt"),
            output=str(model / "latent.h5ad"),
            family="vae",
            n_neighbors=15,
            seed=0,
        ),
        "synthesize": step_code(
            "synthesize",
            real=pre,
            checkpoint=str(model / "model.ckpt"),
            output=str(model / "synthetic.h5ad"),
            family="vae",
            n_per_label=100,
            per_label="fixed",
            seed=0,
        ),
        "evaluate": _evaluate_code(pre, model, threads, latent=True, synthetic=True),
        "evaluate_real": _evaluate_code(pre, out / "real", threads, control="real", sizes=model / "synthetic.h5ad"),
    }


def _evaluate_code(
    pre: str, out: Path, threads: int, latent=False, synthetic=False, control=None, sizes: Path | None = None
) -> list[str]:
    """The evaluation step with the config's defaults (500 trees, 200 bootstrap replicates, max_cells 5000):
    a model's latent and synthetic cells, or a control (``control="real"``, at the label counts of the
    synthetic cells in ``sizes``, as the workflow runs it), into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    return step_code(
        "evaluate",
        real=pre,
        metrics=str(out / "metrics.tsv"),
        per_label=str(out / "per_label.tsv"),
        bootstrap=str(out / "bootstrap.tsv"),
        dataset="scale",
        model=control or "vae",
        latent=str(out / "latent.h5ad") if latent else None,
        synthetic=str(sizes) if sizes else str(out / "synthetic.h5ad") if synthetic else None,
        control=control,
        knn_k=15,
        detection_trees=500,
        ld_window_sites=50,
        ld_window_kb=1000,
        rare_fraction=0.05,
        max_cells=5000,
        n_bootstrap=200,
        min_label_test=10,
        seed=0,
        threads=threads,
    )


def _train_code(pre: str, model: Path, vae: dict, threads: int, stream: bool) -> list[str]:
    """The VAE training step, its outputs in ``model``; batches streamed from disk or not."""
    return step_code(
        "train",
        input=pre,
        checkpoint=str(model / "model.ckpt"),
        history=str(model / "history.csv"),
        training=str(model / "training.json"),
        family="vae",
        model=vae,
        seed=0,
        threads=threads,
        gpus=0,
        stream=stream,
    )


def write_cells(path: Path, n_cells: int, n_genes: int) -> None:
    from omicsgen.datasets import pbmc_like_counts

    pbmc_like_counts(n_cells, n_genes, seed=0).write_h5ad(path)


def write_vcf(path: Path, n_samples: int, n_sites: int, seed: int = 0, chunk: int = 1000) -> None:
    """Bgzipped, tabix-indexed VCF of unphased biallelic SNPs; genotypes written as 4-byte cells."""
    import numpy as np
    import pysam

    rng = np.random.default_rng(seed)
    cells = np.array([b"0/0\t", b"0/1\t", b"1/1\t", b"./.\t"], dtype="S4")
    header = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=1,length=250000000>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(f"s{i}" for i in range(n_samples)),
    ]
    text = path.with_suffix("")  # .vcf
    with open(text, "wb") as handle:
        handle.write(("\n".join(header) + "\n").encode())
        for start in range(0, n_sites, chunk):
            n = min(chunk, n_sites - start)
            af = rng.uniform(0.01, 0.5, size=(n, 1))
            g = rng.binomial(2, af, size=(n, n_samples)).astype(np.int8)
            g[rng.random((n, n_samples)) < 0.01] = 3
            for i in range(n):
                pos = 1000 + 100 * (start + i)
                row = cells[g[i]].tobytes()[:-1]
                handle.write(b"1\t%d\tsnp%d\tA\tG\t.\tPASS\t.\tGT\t" % (pos, start + i) + row + b"\n")
    pysam.tabix_compress(str(text), str(path), force=True)
    text.unlink()
    pysam.tabix_index(str(path), preset="vcf", force=True)


def plot(table: Path, out: Path) -> None:
    """Wall time and peak RSS per stage against the number of observations, log-log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    rows = pd.read_csv(table, sep="\t")
    rows["n_obs"] = rows["size"].str.split("x").str[0].astype(int)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for (data, stage), group in rows.groupby(["data", "stage"]):
        group = group.groupby("n_obs", as_index=False).last()
        for ax, column in zip(axes, ("wall_s", "peak_rss_mb")):
            ax.plot(group["n_obs"], group[column], marker="o", label=f"{data}: {stage}")
    for ax, label in zip(axes, ("wall time (s)", "peak RSS (MB)")):
        ax.set(xscale="log", yscale="log", xlabel="observations (cells or samples)", ylabel=label)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--cells", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--genes", type=int, default=2000)
    parser.add_argument("--samples", type=int, nargs="*", default=[1_000, 10_000])
    parser.add_argument("--snps", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stages", nargs="*", help="cell stages to run (default: all; earlier outputs must exist)")
    parser.add_argument("--plot", type=Path, help="PNG to draw DIR/scale.tsv into, after the runs")
    parser.add_argument("--generate", nargs=3, metavar=("KIND", "PATH", "N"), help=argparse.SUPPRESS)  # in a child
    args = parser.parse_args()
    if args.generate:
        kind, path, n = args.generate
        if kind == "cells":
            write_cells(Path(path), int(n), args.genes)
        else:
            write_vcf(Path(path), int(n), args.snps)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    table = args.workdir / "scale.tsv"
    if not table.exists():
        table.write_text("\t".join(COLUMNS) + "\n")
    print("\t".join(COLUMNS), flush=True)

    def record(data: str, size: str, stage: str, wall: float, rss: float) -> None:
        row = f"{data}\t{size}\t{stage}\t{wall:.1f}\t{rss:.0f}"
        print(row, flush=True)
        with open(table, "a") as handle:
            handle.write(row + "\n")

    def generated(kind: str, n: int, name: str) -> Path:
        """The input of one size, generated in a child process unless it is there already."""
        path = args.workdir / f"{kind}_{n}" / name
        path.parent.mkdir(exist_ok=True)
        if not path.exists():
            wall, _ = run_stage(
                [
                    __file__,
                    "--workdir",
                    str(args.workdir),
                    "--genes",
                    str(args.genes),
                    "--snps",
                    str(args.snps),
                    "--generate",
                    kind,
                    str(path),
                    str(n),
                ],
                path.parent / "generate.log",
            )
            print(f"# generated {path} in {wall:.0f} s", flush=True)
        return path

    for n_cells in args.cells:
        path = generated("cells", n_cells, "input.h5ad")
        out = path.parent
        for stage, code in cell_stages(path, out, args.epochs, args.threads).items():
            if args.stages and stage not in args.stages:
                continue
            wall, rss = run_stage(code, out / f"{stage}.log")
            record("cells", f"{n_cells}x{args.genes}", stage, wall, rss)
        training = json.loads((out / "vae" / "training.json").read_text())
        print(
            f"# {n_cells} cells: {training['epochs_run']} epoch(s) of {training['n_train']} training cells", flush=True
        )

    for n_samples in args.samples:
        path = generated("vcf", n_samples, "input.vcf.gz")
        out = path.parent
        code = step_code(
            "preprocess_vcf",
            input=str(path),
            output=str(out / "preprocessed.h5ad"),
            threads=1,
            label_key=None,
            regions=None,
            encoding="dosage",
            min_maf=0.0,
            min_call_rate=0.0,
            missing="sample_af",
            val_fraction=0.1,
            test_fraction=0.2,
            seed=0,
        )
        wall, rss = run_stage(code, out / "preprocess.log")
        record("genotypes", f"{n_samples}x{args.snps}", "preprocess", wall, rss)
        print(f"# int8 matrix {n_samples * args.snps / 2**20:.0f} MB", flush=True)
    if args.plot:
        plot(table, args.plot)


if __name__ == "__main__":
    main()
