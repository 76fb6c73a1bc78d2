"""Binned read depth: omicsgen (pysam) against `samtools bedcov` on the same BAM and bins.

Usage: python benchmarks/depth_throughput.py [--reads 1000000] [--contig-bp 10000000]
                                             [--bin-bp 1000] [--repeats 3] [--workdir DIR]

A BAM of ``reads`` 100 bp single-end alignments at uniformly drawn positions on one contig
(MAPQ uniform in 0..60, 2% duplicates, 1% supplementary, 10% with a 2 bp deletion) is written,
sorted and indexed with pysam. Both tools then sum aligned bases per bin over the same BED
bins with the same filters: ``samtools bedcov -Q 20 -G 0x800 -j`` (Debian's samtools, output to
/dev/null) and ``omicsgen.bam.binned_depth`` (MAPQ >= 20; unmapped, secondary, QC-fail,
duplicate and supplementary reads skipped). The sums are checked equal; ``repeats`` runs
alternate, medians give reads/s and the ratio (samtools time / omicsgen time; > 1 = omicsgen
faster).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pysam

READ_LENGTH = 100


def generate(path: Path, n_reads: int, contig_bp: int, seed: int = 0) -> Path:
    """Write a sorted, indexed BAM of random 100 bp alignments on contig ``chrB``."""
    rng = np.random.default_rng(seed)
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chrB", "LN": contig_bp}]}
    starts = np.sort(rng.integers(0, contig_bp - READ_LENGTH - 2, size=n_reads))
    mapq = rng.integers(0, 61, size=n_reads)
    flags = np.where(rng.random(n_reads) < 0.02, 0x400, 0) | np.where(rng.random(n_reads) < 0.01, 0x800, 0)
    deletion = rng.random(n_reads) < 0.1
    quality = pysam.qualitystring_to_array("I" * READ_LENGTH)
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for i in range(n_reads):
            read = pysam.AlignedSegment(out.header)
            read.query_name = f"r{i}"
            read.reference_id = 0
            read.reference_start = int(starts[i])
            read.mapping_quality = int(mapq[i])
            read.flag = int(flags[i])
            read.cigarstring = "50M2D50M" if deletion[i] else "100M"
            read.query_sequence = "A" * READ_LENGTH
            read.query_qualities = quality
            out.write(read)
    pysam.index(str(path))
    return path


def time_samtools(bam: Path, bed: Path) -> tuple[float, list[int]]:
    start = time.perf_counter()
    out = subprocess.run(
        ["samtools", "bedcov", "-Q", "20", "-G", "0x800", "-j", str(bed), str(bam)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    elapsed = time.perf_counter() - start
    return elapsed, [int(line.split("\t")[3]) for line in out.splitlines()]


def time_omicsgen(bam: Path, bed: Path) -> tuple[float, list[int]]:
    from omicsgen.bam import ReadFilter, binned_depth, contig_lengths, open_alignments, read_bed

    start = time.perf_counter()
    with open_alignments(bam) as handle:
        bins = read_bed(bed, contig_lengths(handle))
        _, _, depth, _ = binned_depth(handle, bins, lambda read: "sample", ReadFilter())
    return time.perf_counter() - start, depth[0].tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reads", type=int, default=1_000_000)
    parser.add_argument("--contig-bp", type=int, default=10_000_000)
    parser.add_argument("--bin-bp", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="omicsgen-depth-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bam = workdir / f"bench_{args.reads}.bam"
    if not bam.exists():
        generate(bam, args.reads, args.contig_bp)
    bed = workdir / f"bins_{args.bin_bp}.bed"
    edges = np.arange(0, args.contig_bp + args.bin_bp, args.bin_bp).clip(max=args.contig_bp)
    bed.write_text("".join(f"chrB\t{a}\t{b}\n" for a, b in zip(edges[:-1], edges[1:]) if b > a))

    times = {"samtools bedcov": [], "omicsgen": []}
    for _ in range(args.repeats):
        t_samtools, expected = time_samtools(bam, bed)
        t_omicsgen, ours = time_omicsgen(bam, bed)
        assert ours == expected, "omicsgen's depth sums differ from samtools bedcov's"
        times["samtools bedcov"].append(t_samtools)
        times["omicsgen"].append(t_omicsgen)
    print("tool\treads_per_s\tmedian_s")
    for name, values in times.items():
        print(f"{name}\t{args.reads / statistics.median(values):,.0f}\t{statistics.median(values):.2f}")
    ratio = statistics.median(times["samtools bedcov"]) / statistics.median(times["omicsgen"])
    print(f"ratio samtools time / omicsgen time\t{ratio:.2f}\t(same sums in every bin)")


if __name__ == "__main__":
    main()
