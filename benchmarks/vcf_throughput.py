"""Genotypes -> int8 dosage matrix from every input format, against bcftools and plink2, and peak memory.

Usage: python benchmarks/vcf_throughput.py [--samples 500] [--sites 50000] [--threads 2]
                                           [--repeats 3] [--memory-samples 2000]
                                           [--memory-sites 200000] [--workdir DIR]

Throughput: one generated, bgzipped and tabix-indexed VCF (unphased GT, allele frequencies
from Beta(0.5, 2), 1% missing calls) is converted once to BCF (bcftools), PLINK 1 ``.bed``
(plink1.9 --keep-allele-order), PLINK 2 ``.pgen`` (plink2) and VCF Zarr (bio2zarr's vcf2zarr).
Each is read by ``omicsgen.genotypes.read_genotypes`` (filters off, so every site is kept;
``threads`` worker processes for VCF/BCF), and the references run on the same cohort:
``bcftools query -f '[%GT\\t]\\n'`` on the VCF (output to /dev/null) and, where installed,
``plink2 --pfile ... --export A`` (the dosage table). Alternating, ``repeats`` times; medians give
sites/s and the ratio to bcftools. Every format's matrix is checked equal to the VCF's.

Memory: a second cohort of ``memory-samples`` x ``memory-sites``, in every format, is read in a
child process per format; its peak resident memory above the resident memory after imports is
compared with the size of the int8 matrix (n_samples x n_sites bytes). Readers that decode in
worker processes (VCF/BCF with threads > 1; PLINK and VCF Zarr always) finish before the matrix
is allocated; the largest worker's peak (its imports included) is printed beside the ratio.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pysam

GENOTYPES = np.array(["0/0", "0/1", "1/1", "./."])


def generate(path: Path, n_samples: int, n_sites: int, seed: int = 0, block: int = 2000) -> Path:
    """Write a random bgzipped, indexed VCF of ``n_samples`` x ``n_sites`` biallelic SNPs."""
    rng = np.random.default_rng(seed)
    text = path.with_suffix("")
    with open(text, "w") as out:
        out.write("##fileformat=VCFv4.2\n##contig=<ID=1,length=248956422>\n")
        out.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
        out.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t")
        out.write("\t".join(f"S{i}" for i in range(n_samples)) + "\n")
        spacing = max(1, 240_000_000 // n_sites)
        for start in range(0, n_sites, block):
            m = min(block, n_sites - start)
            af = rng.beta(0.5, 2.0, size=m)
            g = rng.binomial(2, af[:, None], size=(m, n_samples))
            g[rng.random(g.shape) < 0.01] = 3
            calls = GENOTYPES[g]
            for k in range(m):
                site = start + k
                out.write(f"1\t{site * spacing + 1}\trs{site}\tA\tG\t.\tPASS\t.\tGT\t" + "\t".join(calls[k]) + "\n")
    pysam.tabix_compress(str(text), str(path), force=True)
    pysam.tabix_index(str(path), preset="vcf", force=True)
    text.unlink()
    return path


def convert(vcf: Path) -> dict[str, Path]:
    """The cohort in every format the tools here can write: vcf, bcf, bed, pgen, vcz."""
    stem = vcf.with_name(vcf.name.removesuffix(".vcf.gz"))
    files = {"vcf": vcf, "bcf": stem.with_suffix(".bcf"), "vcz": stem.with_suffix(".vcz")}
    quiet = {"check": True, "capture_output": True}
    if not files["bcf"].exists():
        subprocess.run(["bcftools", "view", "-Ob", "-o", str(files["bcf"]), str(vcf)], **quiet)
        subprocess.run(["bcftools", "index", str(files["bcf"])], **quiet)
    if shutil.which("plink1.9"):
        files["bed"] = stem.with_suffix(".bed")
        if not files["bed"].exists():
            plink = ["plink1.9", "--vcf", str(vcf), "--keep-allele-order", "--double-id", "--make-bed"]
            subprocess.run([*plink, "--out", str(stem)], **quiet)
    if shutil.which("plink2"):
        files["pgen"] = stem.with_suffix(".pgen")
        if not files["pgen"].exists():
            subprocess.run(["plink2", "--vcf", str(vcf), "--make-pgen", "--out", str(stem)], **quiet)
    if not files["vcz"].exists():
        vcf2zarr = Path(sys.executable).with_name("vcf2zarr")
        subprocess.run([str(vcf2zarr), "convert", "-p", "2", str(vcf), str(files["vcz"])], **quiet)
    return files


def time_command(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def time_omicsgen(path: Path, threads: int) -> tuple[float, np.ndarray]:
    from omicsgen.genotypes import read_genotypes

    start = time.perf_counter()
    adata = read_genotypes(path, min_maf=0.0, min_call_rate=0.0, missing="mode", threads=threads)
    elapsed = time.perf_counter() - start
    assert adata.X.dtype == np.int8
    return elapsed, adata.X


MEMORY_CHILD = """
import resource, sys, json
from pathlib import Path
import numpy as np
from omicsgen.genotypes import read_genotypes
import anndata, cyvcf2, pandas, pgenlib, zarr  # imports counted in the baseline

def rss_kb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

before = rss_kb()
adata = read_genotypes(sys.argv[1], min_maf=0.0, min_call_rate=0.0, missing="mode", threads=int(sys.argv[2]))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest reader worker, 0 if none
print(json.dumps({"before_kb": before, "peak_kb": peak, "child_kb": child, "matrix_bytes": int(adata.X.nbytes),
                  "shape": adata.shape}))
"""


def memory(path: Path, threads: int) -> dict:
    """Peak RSS of ``read_genotypes`` in a child process, and of its largest reader worker."""
    run = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, str(path), str(threads)], capture_output=True, text=True, check=True
    )
    result = json.loads(run.stdout.strip().splitlines()[-1])
    result["ratio"] = (result["peak_kb"] - result["before_kb"]) * 1024 / result["matrix_bytes"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--sites", type=int, default=50_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-samples", type=int, default=2000)
    parser.add_argument("--memory-sites", type=int, default=200_000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="omicsgen-vcf-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)

    path = workdir / f"bench_{args.samples}x{args.sites}.vcf.gz"
    if not path.exists():
        generate(path, args.samples, args.sites)
    files = convert(path)
    references = {"bcftools query": ["bcftools", "query", "-f", r"[%GT\t]\n", str(path)]}
    if "pgen" in files:
        out = workdir / "plink2_export"
        references["plink2 --export A"] = [
            "plink2",
            "--pfile",
            str(files["pgen"].with_suffix("")),
            "--export",
            "A",
            "--out",
            str(out),
        ]
    times: dict[str, list[float]] = {name: [] for name in [*references, *files]}
    for _ in range(args.repeats):
        for name, command in references.items():
            times[name].append(time_command(command))
        matrices = {}
        for fmt, file in files.items():
            elapsed, matrices[fmt] = time_omicsgen(file, args.threads)
            times[fmt].append(elapsed)
        for fmt, matrix in matrices.items():
            assert np.array_equal(matrix, matrices["vcf"]), f"{fmt} matrix differs from the VCF's"
    base = statistics.median(times["bcftools query"])
    print(f"reader ({args.samples} x {args.sites})\tsites_per_s\tmedian_s\tspeed vs bcftools query")
    for name, t in times.items():
        label = name if name in references else f"omicsgen {name}"
        print(
            f"{label}\t{args.sites / statistics.median(t):,.0f}\t{statistics.median(t):.2f}"
            f"\t{base / statistics.median(t):.2f}x"
        )

    if args.memory_sites > 0:
        big = workdir / f"bench_{args.memory_samples}x{args.memory_sites}.vcf.gz"
        if not big.exists():
            generate(big, args.memory_samples, args.memory_sites, seed=1)
        for fmt, file in convert(big).items():
            result = memory(file, args.threads)
            print(
                f"memory {fmt} ({args.memory_samples} x {args.memory_sites}, threads={args.threads})\t"
                f"matrix {result['matrix_bytes'] / 2**20:.0f} MiB\t"
                f"peak above imports {(result['peak_kb'] - result['before_kb']) / 1024:.0f} MiB\t"
                f"ratio {result['ratio']:.2f}\tlargest reader worker {result['child_kb'] / 1024:.0f} MiB"
            )


if __name__ == "__main__":
    main()
