"""VCF -> int8 dosage matrix: omicsgen's reader against `bcftools query`, and its peak memory.

Usage: python benchmarks/vcf_throughput.py [--samples 500] [--sites 50000] [--threads 2]
                                           [--repeats 3] [--memory-samples 2000]
                                           [--memory-sites 200000] [--workdir DIR]

Throughput: one generated, bgzipped and tabix-indexed VCF (unphased GT, allele frequencies
from Beta(0.5, 2), 1% missing calls) is read by ``bcftools query -f '[%GT\\t]\\n'`` (Debian's
bcftools, output to /dev/null) and by ``omicsgen.vcf.read_vcf`` (filters off, so both handle
every site), alternating, ``repeats`` times; medians give sites/s and the ratio.

Memory: a second file of ``memory-samples`` x ``memory-sites`` is read by ``read_vcf`` in a
child process; its peak resident memory above the resident memory after imports is
compared with the size of the int8 matrix (n_samples x n_sites bytes).
"""

from __future__ import annotations

import argparse
import json
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


def time_bcftools(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["bcftools", "query", "-f", r"[%GT\t]\n", str(path)], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def time_omicsgen(path: Path, threads: int) -> float:
    from omicsgen.vcf import read_vcf

    start = time.perf_counter()
    adata = read_vcf(path, min_maf=0.0, min_call_rate=0.0, missing="mode", threads=threads)
    elapsed = time.perf_counter() - start
    assert adata.X.dtype == np.int8
    return elapsed


MEMORY_CHILD = """
import resource, sys, json
from pathlib import Path
import numpy as np
from omicsgen.vcf import read_vcf
import anndata, cyvcf2, pandas  # imports counted in the baseline

def rss_kb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

before = rss_kb()
adata = read_vcf(sys.argv[1], min_maf=0.0, min_call_rate=0.0, missing="mode", threads=int(sys.argv[2]))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_kb": before, "peak_kb": peak, "matrix_bytes": int(adata.X.nbytes), "shape": adata.shape}))
"""


def memory(path: Path, threads: int) -> dict:
    """Peak RSS of ``read_vcf`` in a child process (workers included when ``threads`` > 1)."""
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
    times = {"bcftools": [], "omicsgen": []}
    for _ in range(args.repeats):
        times["bcftools"].append(time_bcftools(path))
        times["omicsgen"].append(time_omicsgen(path, args.threads))
    rates = {name: args.sites / statistics.median(t) for name, t in times.items()}
    print("reader\tsites_per_s\tmedian_s")
    for name, rate in rates.items():
        print(f"{name}\t{rate:,.0f}\t{statistics.median(times[name]):.2f}")
    print(f"ratio omicsgen/bcftools\t{rates['omicsgen'] / rates['bcftools']:.2f}\t(threads={args.threads})")

    if args.memory_sites > 0:
        big = workdir / f"bench_{args.memory_samples}x{args.memory_sites}.vcf.gz"
        if not big.exists():
            generate(big, args.memory_samples, args.memory_sites, seed=1)
        for threads in (1, args.threads):
            result = memory(big, threads)
            print(
                f"memory threads={threads}\tmatrix {result['matrix_bytes'] / 2**20:.0f} MiB\t"
                f"peak above imports {(result['peak_kb'] - result['before_kb']) / 1024:.0f} MiB\t"
                f"ratio {result['ratio']:.2f}"
            )


if __name__ == "__main__":
    main()
