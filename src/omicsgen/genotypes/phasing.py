"""Statistical phasing of unphased genotypes, in two places.

Unphased genotypes reach the models as dosages, and a model of dosages has to carry LD without
knowing which alleles travel together. Phased, the same genomes are read as haplotypes, which
the autoregressive model follows along the chromosome (``benchmarks/README.md``: on the EUR
1000 Genomes panel and a 191-genome *Drosophila* panel the haplotype model's genomes carry
more LD than the dosage model's).

- ``phase: beagle`` (a dataset key): the VCF/BCF is phased with Beagle 5 (Browning, Tian, Zhou &
  Browning 2021, AJHG), the field's phasing tool, before preprocessing, and every model sees
  haplotypes. omicsgen runs it, it does not reimplement it.
- ``ar.phase: hmm`` (the default): the data stay dosages, and the autoregressive model alone is
  trained on haplotypes drawn from their posterior under the fitted haplotype-cluster HMM
  (:func:`hmm_haplotypes`, fastPHASE's phasing), with no Java; its genomes are dosages again.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from omicsgen import contract
from omicsgen.errors import InputError
from omicsgen.genotypes.blocks import SortCheck
from omicsgen.io import dense

log = logging.getLogger(__name__)

BEAGLE = "beagle"  # the command Debian's and bioconda's packages install
HEAP_FRACTION = 0.8  # of the job's memory given to Java's heap (the rest: the JVM itself)


@dataclass
class GenotypeCounts:
    """Counts from one pass over a VCF/BCF: ``sites`` and ``samples``; ``missing_calls``, genotype calls
    with a missing allele (``./.``, ``./1``); ``heterozygous`` calls, of which ``phased_heterozygous``
    are phased; and the header's ``##contig`` lines (``contig_lines``, Beagle's output has none)."""

    sites: int = 0
    samples: int = 0
    missing_calls: int = 0
    heterozygous: int = 0
    phased_heterozygous: int = 0
    contig_lines: list[str] = field(default_factory=list)


def count_genotypes(path: str | os.PathLike, copy_to: str | os.PathLike | None = None) -> GenotypeCounts:
    """Read a VCF/BCF once: check that it is sorted and has genotypes, and count its calls.

    Parameters
    ----------
    path
        VCF (plain or bgzipped) or BCF; read with cyvcf2, record by record.
    copy_to
        Where to copy it as a bgzipped VCF in the same pass (Beagle reads VCF, not BCF); None: no copy.

    Returns
    -------
    GenotypeCounts

    Raises
    ------
    InputError
        The file is not sorted by position (with the ``bcftools sort`` command that fixes it), or
        a record has no GT field.
    """
    from cyvcf2 import VCF, Writer

    vcf = VCF(str(path))
    contigs = [line for line in vcf.raw_header.splitlines() if line.startswith("##contig=")]
    counts = GenotypeCounts(samples=len(vcf.samples), contig_lines=contigs)
    writer = Writer(str(copy_to), vcf, mode="wz") if copy_to is not None else None
    order = SortCheck(str(path))
    try:
        for record in vcf:
            order.check(record.CHROM, record.POS)
            if "GT" not in record.FORMAT:
                raise InputError(
                    f"{path}: record {record.CHROM}:{record.POS} has no GT field; phasing needs genotypes: "
                    "remove such records (bcftools view -i 'GT!=\"\"') or set phase: none"
                )
            calls = record.genotype.array()  # (samples, 3): two alleles (-1 missing) and the phased flag
            missing = (calls[:, :2] < 0).any(axis=1)
            het = (calls[:, 0] != calls[:, 1]) & ~missing
            counts.sites += 1
            counts.missing_calls += int(missing.sum())
            counts.heterozygous += int(het.sum())
            counts.phased_heterozygous += int(calls[het, 2].astype(bool).sum())
            if writer is not None:
                writer.write_record(record)
    finally:
        vcf.close()
        if writer is not None:
            writer.close()
    return counts


def _with_contigs(phased: Path, contig_lines: list[str], output: Path) -> None:
    """Copy Beagle's bgzipped VCF to ``output`` with the input's ``##contig`` lines added after
    ``##fileformat`` (contig lengths for the synthetic VCFs and the region checks)."""
    import gzip

    import pysam

    text = output.with_suffix("")  # .vcf, next to it in the temporary folder
    with gzip.open(phased, "rt") as source, open(text, "w") as target:
        first = source.readline()
        target.write(first)
        target.writelines(line + "\n" for line in contig_lines)
        shutil.copyfileobj(source, target)
    pysam.tabix_compress(str(text), str(output), force=True)
    text.unlink()


def phase_vcf(
    input: str | os.PathLike,
    output: str | os.PathLike,
    *,
    seed: int = 0,
    threads: int = 1,
    mem_mb: int | None = None,
    command: str = BEAGLE,
) -> dict:
    """Phase the genotypes of ``input`` with Beagle 5 into a bgzipped, tabix-indexed VCF ``output``.

    The input is read once first (:func:`count_genotypes`), so that an unsorted file or a record
    without genotypes is reported here, naming the record, before Beagle starts. Beagle then
    phases every sample against the others (no reference panel, Beagle's default genetic map of
    1 cM per Mb) with ``seed`` and ``threads``; Java's heap is :data:`HEAP_FRACTION` of
    ``mem_mb``. Beagle keeps every site, sample and observed genotype, and **imputes missing
    calls**: their number is logged and returned. The whole file is phased (every sample, every
    contig): the dataset's ``regions`` and sample sheet apply after it. The output gets the
    input's ``##contig`` lines (Beagle writes none), is checked against the input's site and
    sample counts, and is written only when Beagle succeeded (no half-written file).

    Parameters
    ----------
    input
        VCF or BCF, sorted; never written to.
    output
        Phased ``.vcf.gz``; its ``.tbi`` index is written next to it.
    seed, threads, mem_mb
        Beagle's ``seed`` and ``nthreads``; the job's memory in MB (None: Java's default heap).
    command
        Beagle's command (``beagle`` from Debian or bioconda, which takes Beagle's arguments).

    Returns
    -------
    dict
        ``tool`` (Beagle's version line), ``seed``, ``input`` and ``input_sha256``, and the
        input's :class:`GenotypeCounts` but its contig lines (``missing_calls``: the calls
        Beagle imputed).

    Raises
    ------
    InputError
        Beagle is not on PATH; the input is unsorted or has a record without GT; Beagle failed
        (the end of its log is in the message) or its output lost sites or samples.
    """
    import pysam

    from omicsgen.provenance import sha256

    executable = shutil.which(command)
    if executable is None:
        raise InputError(
            f"phase: beagle needs Beagle 5 on PATH as '{command}': install it (apt install beagle, or "
            "conda install -c bioconda beagle; snakemake --sdm conda does this) or set the dataset's phase: none"
        )
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{output.name}.", dir=output.parent) as tmp:
        is_bcf = str(input).endswith(".bcf")
        genotypes = Path(tmp, "input.vcf.gz") if is_bcf else Path(input)
        counts = count_genotypes(input, copy_to=genotypes if is_bcf else None)
        if counts.heterozygous and counts.phased_heterozygous == counts.heterozygous:
            log.info("%s: every heterozygous call is phased already; Beagle phases it again", input)
        env = dict(os.environ)
        if mem_mb:
            env["JAVA_TOOL_OPTIONS"] = f"-Xmx{max(256, int(mem_mb * HEAP_FRACTION))}m"
        prefix = Path(tmp, "phased")
        arguments = [f"gt={genotypes}", f"out={prefix}", f"nthreads={threads}", f"seed={seed}"]
        log.info("phasing %s: %s %s", input, command, " ".join(arguments))
        run = subprocess.run([executable, *arguments], env=env, capture_output=True, text=True)
        beagle_log = prefix.with_suffix(".log")
        text = beagle_log.read_text() if beagle_log.exists() else ""
        if run.returncode != 0 or not prefix.with_suffix(".vcf.gz").exists():
            raise InputError(
                f"{input}: Beagle could not phase it (exit status {run.returncode}): "
                f"{_tail(text or run.stderr or run.stdout)}; on a Java OutOfMemoryError raise "
                "resources.max_mem_mb, otherwise fix the records Beagle names or set phase: none"
            )
        final = Path(tmp, "final.vcf.gz")
        _with_contigs(prefix.with_suffix(".vcf.gz"), counts.contig_lines, final)
        phased = count_genotypes(final)
        if (phased.sites, phased.samples) != (counts.sites, counts.samples):
            raise InputError(
                f"{input}: Beagle wrote {phased.sites} sites x {phased.samples} samples from "
                f"{counts.sites} x {counts.samples}, so its output is not used (Beagle's log: {_tail(text)}); "
                "phase the file yourself and point 'path' at it, or set phase: none"
            )
        version = re.search(r"^(beagle\S*\s*\(version [^)]*\))", text, flags=re.MULTILINE)
        pysam.tabix_index(str(final), preset="vcf", force=True)
        os.replace(f"{final}.tbi", f"{output}.tbi")
        os.replace(final, output)
    counts_out = {key: value for key, value in asdict(counts).items() if key != "contig_lines"}
    summary = {
        "tool": version.group(1) if version else command,
        "seed": seed,
        "input": str(input),
        "input_sha256": sha256(input),
        **counts_out,
    }
    log.info(
        "%s: %d samples x %d sites phased by %s; %d missing calls imputed by Beagle; %d of %d heterozygous calls "
        "were phased in the input",
        input,
        counts.samples,
        counts.sites,
        summary["tool"],
        counts.missing_calls,
        counts.phased_heterozygous,
        counts.heterozygous,
    )
    return summary


def hmm_haplotypes(adata, model, draws: int, seed: int, batch_size: int = 512):
    """Haplotypes of the training and validation genomes drawn from their posterior under a fitted HMM.

    Each training genome's two haplotypes are drawn ``draws`` times, each validation genome's once
    (first, so that the validation haplotypes do not change with ``draws``), by
    :meth:`omicsgen.models.hmm.HaplotypeClusterHMM.sample_haplotypes` (fastPHASE's phasing, Scheet &
    Stephens 2006, AJHG): the phase at each heterozygous site in proportion to its posterior
    probability, not a best guess, so that a model trained on the draws sees the phase as uncertain
    as it is. Every draw's two haplotypes sum to the genome's genotypes. Test genomes are left out
    (no model trains on them).

    Parameters
    ----------
    adata
        Unphased genotypes (``uns["omicsgen"]["encoding"]`` ``"dosage"``), in memory or backed;
        ``obs["split"]``, and the label column of a labelled dataset.
    model
        :class:`~omicsgen.models.hmm.HaplotypeClusterHMM` fitted to these genotypes (dosages),
        with the same label categories.
    draws
        Draws per training genome (>= 1).
    seed
        Seeds torch's generator for the draws (inside ``torch.random.fork_rng``).
    batch_size
        Genomes phased at a time (memory: ``batch_size x K**2`` floats per site of a block).

    Returns
    -------
    anndata.AnnData
        ``(2 x (n_val + draws x n_train), n_vars)`` int8 alleles, filled in place (memory: ``2 x
        draws`` times the training genomes' int8 genotypes, in memory even where the input is
        backed), encoding ``"haplotype"`` and likelihood ``"bernoulli"``; ``obs``: ``sample`` (the
        genome's ``obs_names``), ``draw``, ``haplotype`` (1, 2), ``split`` and the label column;
        rows named ``<genome>_d<draw>_h<haplotype>``; ``var`` as the input's.

    Raises
    ------
    ValueError
        The data are not unphased dosages, ``draws < 1``, or the model is not a dosage HMM of
        the data's sites and labels.
    """
    import anndata as ad
    import torch

    if contract.encoding(adata) != "dosage":
        raise ValueError(f"phasing needs unphased dosages; these data are {contract.encoding(adata)!r}")
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise ValueError(f"ar.phase_draws must be an integer >= 1, got {draws!r}")
    if model.allele_frequency.shape[0] != adata.n_vars or model.labels != contract.label_categories(adata):
        raise ValueError(
            f"the HMM has {model.allele_frequency.shape[0]} sites and labels {model.labels}; the data "
            f"{adata.n_vars} sites and labels {contract.label_categories(adata)}: fit it to these data"
        )
    split = contract.split_of(adata)
    codes = contract.label_codes(adata, model.labels) if model.n_labels else None
    # validation genomes first, so that their draws do not depend on ``draws``
    phased = [(np.flatnonzero(split == "val"), 1), (np.flatnonzero(split == "train"), draws)]
    X = np.empty((2 * sum(len(index) * times for index, times in phased), adata.n_vars), dtype=np.int8)
    rows, filled = [], 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for index, times in phased:
            for start in range(0, len(index), batch_size):
                chunk = index[start : start + batch_size]
                x = torch.from_numpy(dense(adata.X[chunk]).astype(np.float32))
                y = torch.from_numpy(codes[chunk]) if codes is not None else None
                for draw in range(times):
                    X[filled : filled + 2 * len(chunk)] = (
                        model.sample_haplotypes(x, y).reshape(-1, adata.n_vars).numpy()
                    )
                    filled += 2 * len(chunk)
                    rows += [(i, draw, h) for i in chunk for h in (1, 2)]
    genome, draw, haplotype = (np.array(column) for column in zip(*rows))
    names = adata.obs_names.to_numpy()[genome]
    obs = pd.DataFrame(
        {"sample": names, "draw": draw, "haplotype": haplotype, "split": split[genome]},
        index=[f"{n}_d{d}_h{h}" for n, d, h in zip(names, draw, haplotype)],
    )
    key = contract.info(adata)["label_key"]
    if key:
        obs[key] = pd.Categorical(adata.obs[key].to_numpy()[genome], categories=adata.obs[key].cat.categories)
    uns = {**contract.info(adata), "encoding": "haplotype", "likelihood": "bernoulli"}
    return ad.AnnData(X=X, obs=obs, var=adata.var.copy(), uns={"omicsgen": uns})


def _tail(text: str, lines: int = 4) -> str:
    """The last ``lines`` non-empty lines of ``text``, joined by `` | ``."""
    return " | ".join([line for line in text.strip().splitlines() if line.strip()][-lines:])


def write_summary(summary: dict, path: str | os.PathLike) -> None:
    """Write :func:`phase_vcf`'s summary as JSON (the preprocessing step records it in ``uns``).

    Parameters
    ----------
    summary
        What :func:`phase_vcf` returned.
    path
        The ``.json`` file; written whole or not at all (:func:`omicsgen.io.write_text`).
    """
    from omicsgen.io import write_text

    write_text(json.dumps(summary, indent=1) + "\n", path)
