"""Statistical phasing with Beagle (``phase: beagle``) on the 1000 Genomes EUR genotypes: every observed
genotype kept, missing calls imputed and counted, bad input stopped before Beagle starts."""

from __future__ import annotations

import gzip
import shutil
import stat

import numpy as np
import pysam
import pytest

from omicsgen.errors import InputError
from omicsgen.genotypes.phasing import count_genotypes, phase_vcf
from omicsgen.io import read_h5ad
from tests.conftest import REPO, snakemake, write_test_config

EUR = REPO / "resources" / "eur_1kg" / "EUR_test.vcf.gz"
SITES = 300  # the first sites of EUR_test: Beagle takes seconds on them
beagle = pytest.mark.skipif(shutil.which("beagle") is None, reason="Beagle not installed (make test installs it)")


def _subset(tmp_path, edit=lambda records: records, name="eur.vcf.gz"):
    """The first :data:`SITES` records of EUR_test, passed through ``edit(records) -> records``, bgzipped."""
    lines = gzip.open(EUR, "rt").read().splitlines(keepends=True)
    header = [line for line in lines if line.startswith("#")]
    records = [line for line in lines if not line.startswith("#")][:SITES]
    text = tmp_path / name.removesuffix(".gz")
    text.write_text("".join(header + edit(records)))
    out = tmp_path / name
    pysam.tabix_compress(str(text), str(out), force=True)
    return out


def _calls(path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Samples, alleles ``(n_sites, n_samples, 2)`` (-1 missing) and phased flags, read by pysam."""
    with pysam.VariantFile(str(path)) as vcf:
        samples = list(vcf.header.samples)
        alleles, phased = [], []
        for record in vcf:
            calls = [record.samples[s] for s in samples]
            alleles.append([[-1 if a is None else a for a in c["GT"]] for c in calls])
            phased.append([c.phased for c in calls])
    return samples, np.array(alleles), np.array(phased)


def _set_missing(records):
    """Three calls set to ``./.``: sample 1 at the 5th and 6th record, sample 2 at the 10th."""
    records = list(records)
    for row, column in ((4, 9), (5, 9), (9, 10)):
        fields = records[row].rstrip("\n").split("\t")
        fields[column] = "./."
        records[row] = "\t".join(fields) + "\n"
    return records


@beagle
@pytest.mark.parametrize("suffix", ["vcf.gz", "bcf"])
def test_beagle_phases_every_call_and_keeps_the_observed_genotypes(tmp_path, suffix):
    source = _subset(tmp_path, _set_missing)
    if suffix == "bcf":  # Beagle reads VCF: a BCF is copied to VCF first
        bcf = tmp_path / "eur.bcf"
        with pysam.VariantFile(str(source)) as vin, pysam.VariantFile(str(bcf), "wb", header=vin.header) as vout:
            for record in vin:
                vout.write(record)
        source = bcf
    before = source.read_bytes()
    out = tmp_path / "phased.vcf.gz"
    summary = phase_vcf(source, out, seed=0, threads=1, mem_mb=1000)
    assert source.read_bytes() == before  # the input is never written to
    assert summary["tool"].startswith("beagle") and "version 5" in summary["tool"]
    assert (summary["sites"], summary["samples"], summary["missing_calls"]) == (SITES, 379, 3)
    assert summary["phased_heterozygous"] == 0 < summary["heterozygous"]
    samples, alleles, phased = _calls(out)
    in_samples, in_alleles, _ = _calls(source)
    assert samples == in_samples and alleles.shape == in_alleles.shape
    assert phased.all() and (alleles >= 0).all()  # every call phased, the missing ones imputed
    observed = (in_alleles >= 0).all(axis=2)
    assert (~observed).sum() == 3
    np.testing.assert_array_equal(alleles.sum(axis=2)[observed], in_alleles.sum(axis=2)[observed])
    assert (out.parent / "phased.vcf.gz.tbi").exists()
    assert not list(tmp_path.glob(".phased.vcf.gz.*"))  # Beagle's working directory is gone
    again = tmp_path / "again.vcf.gz"
    phase_vcf(source, again, seed=0, threads=1, mem_mb=1000)
    np.testing.assert_array_equal(_calls(again)[1], alleles)  # the same seed, the same haplotypes


def test_unsorted_input_is_stopped_before_beagle_starts(tmp_path):
    """The first step that reads the file names the record; Beagle (here a command that would fail
    loudly) is never started and nothing is written."""
    fake = tmp_path / "beagle"
    fake.write_text("#!/bin/sh\necho 'Beagle was started' >&2\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    records = _subset(tmp_path, lambda r: [r[1], r[0], *r[2:]], name="unsorted.vcf.gz")
    with pytest.raises(InputError, match=r"unsorted\.vcf\.gz: not sorted by position: record 21:\d+ comes after"):
        phase_vcf(records, tmp_path / "phased.vcf.gz", command=str(fake))
    assert not list(tmp_path.glob("phased*")) and not list(tmp_path.glob(".phased*"))
    with pytest.raises(InputError, match=r"Beagle could not phase it \(exit status 3\): Beagle was started"):
        phase_vcf(_subset(tmp_path), tmp_path / "phased.vcf.gz", command=str(fake))
    assert not list(tmp_path.glob("phased*"))


def test_missing_beagle_says_how_to_install_it(tmp_path):
    with pytest.raises(InputError, match="apt install beagle.*bioconda.*phase: none"):
        phase_vcf(EUR, tmp_path / "phased.vcf.gz", command="no-such-beagle")


def test_count_genotypes_counts_missing_and_heterozygous_calls(tmp_path):
    source = _subset(tmp_path, _set_missing)
    counts = count_genotypes(source)
    assert (counts.sites, counts.samples, counts.missing_calls, counts.phased_heterozygous) == (SITES, 379, 3, 0)
    _, alleles, _ = _calls(source)
    assert counts.heterozygous == int(((alleles.sum(axis=2) == 1) & (alleles >= 0).all(axis=2)).sum()) > 0


@beagle
def test_workflow_phases_then_reads_haplotypes(tmp_path):
    """``phase: beagle``: rule phase_vcf runs first, the dataset is read as haplotypes, and the
    preprocessed data record that Beagle made them."""
    config = write_test_config(tmp_path, datasets=("eur_1kg",), **{"datasets.eur_1kg.phase": "beagle"})
    result = snakemake(tmp_path, "results/eur_1kg/preprocessed.h5ad", "--configfile", str(config))
    assert result.returncode == 0, result.stderr[-2000:]
    adata = read_h5ad(tmp_path / "results" / "eur_1kg" / "preprocessed.h5ad")
    assert adata.n_obs == 2 * 379 and adata.uns["omicsgen"]["encoding"] == "haplotype"
    assert adata.uns["omicsgen"]["phasing"]["samples"] == 379
    assert "phased by beagle" in (tmp_path / "results" / "logs" / "phase" / "eur_1kg.log").read_text()
