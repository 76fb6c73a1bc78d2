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
    with pysam.VariantFile(str(out)) as phased_vcf, pysam.VariantFile(str(source)) as input_vcf:
        assert dict(phased_vcf.header.contigs).keys() == dict(input_vcf.header.contigs).keys()
        assert phased_vcf.header.contigs["21"].length == input_vcf.header.contigs["21"].length > 0
    assert summary["input"] == str(source) and len(summary["input_sha256"]) == 64
    assert not list(tmp_path.glob(".phased.vcf.gz.*"))  # Beagle's working directory is gone
    again = tmp_path / "again.vcf.gz"
    phase_vcf(source, again, seed=0, threads=1, mem_mb=1000)
    np.testing.assert_array_equal(_calls(again)[1], alleles)  # the same seed, the same haplotypes


def _fake_beagle(tmp_path, script: str):
    """An executable standing in for Beagle: ``script`` runs with Beagle's arguments (``gt=``, ``out=``, ...)."""
    fake = tmp_path / "fake-beagle"
    fake.write_text(
        '#!/bin/bash\nfor a in "$@"; do case $a in gt=*) gt=${a#gt=};; out=*) out=${a#out=};; esac; done\n' + script
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return str(fake)


def test_bad_input_is_stopped_before_beagle_starts(tmp_path):
    """The first step that reads the file names the record; Beagle (here a command that would leave a
    file behind) is never started and nothing is written."""
    fake = _fake_beagle(tmp_path, f"echo started > {tmp_path}/started.txt; exit 3\n")
    unsorted = _subset(tmp_path, lambda r: [r[1], r[0], *r[2:]], name="unsorted.vcf.gz")
    with pytest.raises(InputError, match=r"unsorted\.vcf\.gz: not sorted by position: record 21:\d+ comes after"):
        phase_vcf(unsorted, tmp_path / "phased.vcf.gz", command=fake)

    def drop_gt(records):
        fields = records[7].rstrip("\n").split("\t")
        return [*records[:7], "\t".join(fields[:8]) + "\n", *records[8:]]  # no FORMAT, no genotypes

    no_gt = _subset(tmp_path, drop_gt, name="no_gt.vcf.gz")
    with pytest.raises(InputError, match=r"no_gt\.vcf\.gz: record 21:\d+ has no GT field"):
        phase_vcf(no_gt, tmp_path / "phased.vcf.gz", command=fake)
    assert not (tmp_path / "started.txt").exists()
    assert not list(tmp_path.glob("phased*")) and not list(tmp_path.glob(".phased*"))


def test_beagle_failing_or_losing_records_leaves_no_output(tmp_path):
    source = _subset(tmp_path)
    # Beagle writes part of its output, then fails
    fake = _fake_beagle(
        tmp_path, "echo partial | gzip > $out.vcf.gz; echo 'java.lang.OutOfMemoryError' > $out.log; exit 1\n"
    )
    with pytest.raises(InputError, match=r"exit status 1\): java.lang.OutOfMemoryError; .*resources.max_mem_mb"):
        phase_vcf(source, tmp_path / "phased.vcf.gz", command=fake)
    assert not list(tmp_path.glob("phased*")) and not list(tmp_path.glob(".phased*"))
    # Beagle succeeds but drops the last record: its output is not used
    fake = _fake_beagle(
        tmp_path, "zcat $gt | head -n -1 | gzip > $out.vcf.gz; echo 'beagle.x (version 5.4)' > $out.log\n"
    )
    with pytest.raises(InputError, match=rf"wrote {SITES - 1} sites x 379 samples from {SITES} x 379"):
        phase_vcf(source, tmp_path / "phased.vcf.gz", command=fake)
    assert not list(tmp_path.glob("phased*")) and not list(tmp_path.glob(".phased*"))


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


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"datasets.eur_1kg.path": "PLINK"}, "Beagle phases VCF or BCF files; convert"),
        ({"datasets.eur_1kg.encoding": "dosage"}, "phasing makes haplotypes that encoding: dosage would sum again"),
    ],
)
def test_phase_config_errors(tmp_path, changes, message):
    if changes.get("datasets.eur_1kg.path") == "PLINK":
        for ext in (".bed", ".bim", ".fam"):
            (tmp_path / f"cohort{ext}").write_text("")
        changes = {"datasets.eur_1kg.path": str(tmp_path / "cohort.bed")}
    config = write_test_config(tmp_path, datasets=("eur_1kg",), **{"datasets.eur_1kg.phase": "beagle", **changes})
    result = snakemake(tmp_path, "-n", "--configfile", str(config))
    assert result.returncode != 0 and "config key 'datasets.eur_1kg.phase'" in result.stderr + result.stdout
    assert message in result.stderr + result.stdout
