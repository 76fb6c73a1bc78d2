"""VCF/BCF to int8 genotypes on real data (1000 Genomes EUR and the simulated panel), and back to VCF."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest

from omicsgen import steps
from omicsgen.errors import InputError
from omicsgen.genotypes import read_genotypes
from omicsgen.genotypes.vcf import read_vcf, write_vcf
from omicsgen.preprocess import prepare_genotypes
from omicsgen.simulate import simulate_ooa_panel
from tests.conftest import REPO

EUR = REPO / "resources" / "eur_1kg" / "EUR_test.vcf.gz"


@pytest.fixture(scope="module")
def eur():
    return read_vcf(EUR)


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    """A small simulated (phased, labelled) panel: 20 samples per population."""
    out = tmp_path_factory.mktemp("panel")
    simulate_ooa_panel(out / "ooa3.vcf.gz", out / "ooa3.tsv", n_per_population=20, length_bp=300_000, seed=3)
    return out / "ooa3.vcf.gz", out / "ooa3.tsv"


def _pysam_dosages(path: Path) -> tuple[list[str], np.ndarray]:
    """Dosages by pysam (an independent reader), for comparison."""
    with pysam.VariantFile(str(path)) as vcf:
        samples = list(vcf.header.samples)
        rows = [[sum(a for a in rec.samples[s]["GT"]) for s in samples] for rec in vcf]
    return samples, np.array(rows, dtype=np.int8).T


def _edited_copy(tmp_path: Path, edit, name: str = "edited.vcf.gz") -> Path:
    """EUR_test with its text lines passed through ``edit(lines) -> lines``, bgzipped."""
    lines = gzip.open(EUR, "rt").read().splitlines(keepends=True)
    text = tmp_path / name.replace(".gz", "")
    text.write_text("".join(edit(lines)))
    out = tmp_path / name
    pysam.tabix_compress(str(text), str(out), force=True)
    return out


def test_dosages_match_pysam(eur):
    samples, expected = _pysam_dosages(EUR)
    assert eur.X.dtype == np.int8 and eur.shape == (379, 2000)
    assert list(eur.obs_names) == samples
    np.testing.assert_array_equal(eur.X, expected)
    assert list(eur.var.columns[:5]) == ["chrom", "pos", "id", "ref", "alt"]
    assert eur.var["chrom"].value_counts().to_dict() == {"21": 1813, "22": 187}
    np.testing.assert_allclose(eur.var["af"], expected.mean(axis=0) / 2)
    assert eur.var.iloc[0][["pos", "id", "ref", "alt"]].tolist() == [38347375, "rs11702480", "A", "G"]


def test_regions_without_and_with_index(eur, tmp_path):
    only22 = read_vcf(EUR, regions=["22"])
    assert only22.n_vars == 187 and set(only22.var["chrom"]) == {"22"}
    window = read_vcf(EUR, regions=["21:40,000,000-41000000"])
    assert window.var["pos"].between(40_000_000, 41_000_000).all()
    assert window.n_vars == int(((eur.var["chrom"] == "21") & eur.var["pos"].between(40_000_000, 41_000_000)).sum()) > 0
    indexed = tmp_path / "eur.vcf.gz"
    shutil.copy(EUR, indexed)
    pysam.tabix_index(str(indexed), preset="vcf", force=True)
    for threads in (1, 2):  # two workers split the file by position; same matrix
        again = read_vcf(indexed, regions=["21:40000000-41000000", "22"], threads=threads)
        expected = pd.concat([window.var, only22.var])
        assert again.var_names.tolist() == expected.index.tolist()
    whole = read_vcf(indexed, threads=2)
    np.testing.assert_array_equal(whole.X, eur.X)


def test_bcf_and_plain_vcf_read_the_same(eur, tmp_path):
    bcf = tmp_path / "eur.bcf"
    with pysam.VariantFile(str(EUR)) as src, pysam.VariantFile(str(bcf), "wb", header=src.header) as out:
        for rec in src:
            out.write(rec)
    plain = tmp_path / "eur.vcf"
    plain.write_text(gzip.open(EUR, "rt").read())
    for path in (bcf, plain):
        np.testing.assert_array_equal(read_vcf(path).X, eur.X)


def test_sample_subset_keeps_requested_order(eur):
    wanted = [eur.obs_names[10], eur.obs_names[2], eur.obs_names[300]]
    sub = read_vcf(EUR, samples=wanted, min_maf=0)  # min_maf 0 keeps sites monomorphic among the three
    assert list(sub.obs_names) == wanted and sub.n_vars == 2000
    np.testing.assert_array_equal(sub.X, eur.X[[10, 2, 300]])
    np.testing.assert_allclose(sub.var["af"], eur.X[[10, 2, 300]].mean(axis=0) / 2)  # AF of the kept samples


def test_filters_count_what_they_drop(eur):
    strict = read_vcf(EUR, min_maf=0.2)
    maf = np.minimum(eur.var["af"], 1 - eur.var["af"])
    assert strict.n_vars == int((maf >= 0.2).sum())
    assert strict.uns["vcf"]["sites_dropped"]["low_maf"] == 2000 - strict.n_vars


def test_haplotypes_of_phased_panel(panel):
    path, sheet = panel
    hap = prepare_genotypes(path, sample_sheet=sheet, label_key="population", encoding="haplotype")
    dos = prepare_genotypes(path, sample_sheet=sheet, label_key="population", encoding="dosage")
    assert hap.n_obs == 2 * dos.n_obs == 120 and hap.uns["omicsgen"]["likelihood"] == "bernoulli"
    assert set(np.unique(hap.X)) <= {0, 1}
    np.testing.assert_array_equal(hap.X[0::2] + hap.X[1::2], dos.X)
    assert list(hap.obs_names[:2]) == ["sim-YRI-0001_h1", "sim-YRI-0001_h2"]
    # both haplotypes of a sample share its split; every population is in every split
    pairs = hap.obs["split"].to_numpy().reshape(-1, 2)
    assert (pairs[:, 0] == pairs[:, 1]).all()
    assert dos.obs.groupby(["population", "split"], observed=False).size().min() >= 2


def test_auto_encoding_reads_phase_where_the_file_has_it(panel, eur, tmp_path):
    path, sheet = panel
    # a phased file: haplotypes, exactly as asked for by name
    auto = prepare_genotypes(path, sample_sheet=sheet, label_key="population")
    hap = prepare_genotypes(path, sample_sheet=sheet, label_key="population", encoding="haplotype")
    assert auto.uns["omicsgen"]["encoding"] == "haplotype" and auto.uns["omicsgen"]["likelihood"] == "bernoulli"
    np.testing.assert_array_equal(auto.X, hap.X)
    assert auto.uns["vcf"]["heterozygous_calls"] > 0
    # an unphased file (EUR, 0/1): dosages, as read_vcf gives them
    unphased = read_genotypes(EUR, encoding="auto")
    assert unphased.uns["vcf"]["encoding"] == "dosage"
    np.testing.assert_array_equal(unphased.X, eur.X)
    # one unphased heterozygous call late in a phased file makes the whole file dosages
    records = [line for line in gzip.open(path, "rt") if not line.startswith("#")]
    last_het = max(i for i, line in enumerate(records) if "0|1" in line)

    def unphase_one(lines):
        body = [i for i, line in enumerate(lines) if not line.startswith("#")]
        k = body[last_het]
        lines[k] = lines[k].replace("0|1", "0/1", 1)
        return lines

    lines = gzip.open(path, "rt").read().splitlines(keepends=True)
    text = tmp_path / "mixed.vcf"
    text.write_text("".join(unphase_one(lines)))
    mixed = tmp_path / "mixed.vcf.gz"
    pysam.tabix_compress(str(text), str(mixed), force=True)
    read = read_genotypes(mixed, encoding="auto")
    assert read.uns["vcf"]["encoding"] == "dosage"
    np.testing.assert_array_equal(read.X, read_vcf(path).X)
    # homozygous calls alone (inbred lines) carry no phase: dosages 0/2, not two copies of each line
    homozygous = _edited_copy(tmp_path, lambda lines: [line.replace("0/1", "1/1") for line in lines], "inbred.vcf.gz")
    inbred = read_genotypes(homozygous, encoding="auto")
    assert inbred.uns["vcf"]["encoding"] == "dosage" and inbred.n_obs == eur.n_obs
    assert set(np.unique(inbred.X)) <= {0, 2}


def test_missing_genotype_policies(tmp_path):
    # blank 40 calls at the first site (and 1 at the second) of the real file
    def blank(lines):
        out, n_site = [], 0
        for line in lines:
            if not line.startswith("#") and n_site < 2:
                fields = line.rstrip("\n").split("\t")
                for k in range(9, 9 + (40 if n_site == 0 else 1)):
                    fields[k] = "./."
                line = "\t".join(fields) + "\n"
                n_site += 1
            out.append(line)
        return out

    path = _edited_copy(tmp_path, blank)
    sample_af = read_vcf(path, missing="sample_af", seed=1, min_call_rate=0.5)
    assert sample_af.uns["vcf"]["genotypes_imputed"] == 41
    assert set(np.unique(sample_af.X)) <= {0, 1, 2}
    np.testing.assert_array_equal(read_vcf(path, missing="sample_af", seed=1, min_call_rate=0.5).X, sample_af.X)
    mode = read_vcf(path, missing="mode", min_call_rate=0.5)
    called = mode.X[40:, 0]
    assert (mode.X[:40, 0] == np.bincount(called).argmax()).all()
    mean = read_vcf(path, missing="mean", min_call_rate=0.5)
    assert (mean.X[:40, 0] == np.rint(2 * mean.var["af"].iloc[0])).all()
    assert mean.var["call_rate"].iloc[0] == pytest.approx(339 / 379)
    dropped = read_vcf(path, missing="drop_site")
    assert dropped.n_vars == 1998 and dropped.uns["vcf"]["sites_dropped"]["missing_genotype"] == 2
    low_call = read_vcf(path, min_call_rate=0.95)  # the first site (89% called) fails the call-rate filter
    assert low_call.n_vars == 1999 and low_call.uns["vcf"]["sites_dropped"]["low_call_rate"] == 1


# --- bad input: one clear error naming the file and the record, and no output -----------------


def _fails(tmp_path, match: str, input: Path, **params):
    output = tmp_path / "out" / "preprocessed.h5ad"
    with pytest.raises(InputError, match=match) as info:
        steps.preprocess_vcf(str(input), str(output), **params)
    assert not output.parent.exists() or not any(output.parent.iterdir())
    assert str(params.get("sample_sheet") or input) in str(info.value)
    return str(info.value)


def test_truncated_bgzf(tmp_path):
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(EUR.read_bytes()[: EUR.stat().st_size // 2])
    _fails(tmp_path, "truncated BGZF", cut)


def test_vcf_without_gt(tmp_path):
    def drop_gt(lines):
        out = []
        for line in lines:
            if line.startswith("##FORMAT=<ID=GT"):
                continue
            if not line.startswith("#"):
                line = "\t".join(line.split("\t")[:8]) + "\n"
            elif line.startswith("#CHROM"):
                line = "\t".join(line.split("\t")[:8]) + "\n"
            out.append(line)
        return out

    _fails(tmp_path, "no GT", _edited_copy(tmp_path, drop_gt))


def test_no_site_left(tmp_path):
    def monomorphic(lines):
        return [line if line.startswith("#") else line.replace("0/1", "0/0").replace("1/1", "0/0") for line in lines]

    message = _fails(tmp_path, "no site left", _edited_copy(tmp_path, monomorphic))
    assert "'low_maf': 2000" in message


def test_empty_region(tmp_path):
    _fails(tmp_path, r"region 21:1-1000 holds no record", EUR, regions=["21:1-1000"])


def test_contig_absent_from_header(tmp_path):
    message = _fails(tmp_path, "absent from the file.s header", EUR, regions=["chr21"])
    assert "'chr21'" in message


def test_sample_sheet_naming_absent_samples(tmp_path):
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text("sample\tpopulation\n1_HG00096\tGBR\nNOT_A_SAMPLE\tXXX\n")
    message = _fails(tmp_path, "samples are not in", EUR, sample_sheet=str(sheet), label_key="population")
    assert "NOT_A_SAMPLE" in message


def test_duplicate_sample_ids(tmp_path):
    def duplicate(lines):
        return [line.replace("\t2_HG00097\t", "\t1_HG00096\t") if line.startswith("#CHROM") else line for line in lines]

    message = _fails(tmp_path, "duplicate sample IDs", _edited_copy(tmp_path, duplicate))
    assert "1_HG00096" in message


def _records(lines):
    return [i for i, line in enumerate(lines) if not line.startswith("#")]


def test_unsorted_positions_stop_at_the_first_out_of_order_record(tmp_path):
    def swap(lines):  # the 101st record before the 100th: positions go backwards once, within contig 21
        i, j = _records(lines)[99:101]
        lines[i], lines[j] = lines[j], lines[i]
        return lines

    lines = gzip.open(EUR, "rt").read().splitlines()
    first, second = (lines[i].split("\t")[:2] for i in _records(lines)[99:101])
    message = _fails(tmp_path, "not sorted by position", _edited_copy(tmp_path, swap))
    assert f"record 21:{first[1]} comes after 21:{second[1]}" in message
    assert "bcftools sort -Oz -o sorted.vcf.gz" in message


def test_contig_split_in_two_blocks_is_unsorted(tmp_path):
    def move(lines):  # a chr21 record moved to the end, after the chr22 records
        i = _records(lines)[0]
        return lines[:i] + lines[i + 1 :] + [lines[i]]

    message = _fails(tmp_path, "not sorted by position", _edited_copy(tmp_path, move))
    assert "record 21:38347375 returns to contig '21' after 22:" in message


def test_stale_index_is_ignored_not_trusted(tmp_path, caplog):
    # an index made for another version of the file (its first 300 chr21 records missing), then the file replaced
    stale = _edited_copy(
        tmp_path, lambda lines: [line for k, line in enumerate(lines) if k not in set(_records(lines)[:300])]
    )
    pysam.tabix_index(str(stale), preset="vcf", force=True)
    shutil.copy(EUR, stale)
    os.utime(f"{stale}.tbi", (1, 1))  # as old as a stale index is
    adata = read_vcf(stale, regions=["21"], threads=2)
    assert adata.n_vars == 1813  # every chr21 site, none missed through the stale index
    assert "older than the file" in caplog.text and f"bcftools index -f {stale}" in caplog.text


def test_haplotypes_asked_of_unphased_data(tmp_path):
    message = _fails(tmp_path, "unphased genotype", EUR, encoding="haplotype")
    assert "21:38347375" in message and "encoding: dosage" in message


# --- synthetic genotypes back to VCF ----------------------------------------------------------


def _synthetic(real, n: int = 12):
    rng = np.random.default_rng(0)
    out = real[:n].copy()
    out.X = rng.binomial(2, real.var["af"].to_numpy(), size=(n, real.n_vars)).astype(np.int8)
    out.obs_names = [f"synthetic_{i}" for i in range(n)]
    out.uns["omicsgen"] = {"encoding": "dosage"}
    return out


def test_synthetic_vcf_round_trip(eur, tmp_path):
    synthetic = _synthetic(eur)
    path = tmp_path / "synthetic.vcf.gz"
    write_vcf(synthetic, path)
    assert Path(f"{path}.tbi").exists()
    samples, dosages = _pysam_dosages(path)
    assert samples == [f"synthetic_{i}" for i in range(12)]
    np.testing.assert_array_equal(dosages, synthetic.X)
    with pysam.VariantFile(str(path)) as vcf:
        assert list(vcf.header.contigs) == ["21", "22"] and vcf.header.contigs["21"].length == 48099611
        first = next(vcf.fetch("22"))  # the index works
        assert first.chrom == "22"
    again = read_vcf(path, min_maf=0)
    np.testing.assert_array_equal(again.X, synthetic.X[:, np.isin(synthetic.var_names, again.var_names)])


def test_synthetic_haplotypes_are_phased_pairs(panel, tmp_path):
    path, sheet = panel
    hap = prepare_genotypes(path, sample_sheet=sheet, label_key="population", encoding="haplotype")
    synthetic = hap[:10].copy()
    synthetic.obs["sample"] = [f"synthetic_{i // 2}" for i in range(10)]
    out = tmp_path / "hap.vcf.gz"
    write_vcf(synthetic, out)
    back = read_vcf(out, encoding="haplotype", min_maf=0)
    np.testing.assert_array_equal(back.X, synthetic.X[:, np.isin(synthetic.var_names, back.var_names)])


@pytest.mark.skipif(shutil.which("bcftools") is None, reason="bcftools not installed (make test installs it)")
def test_synthetic_vcf_passes_bcftools(eur, tmp_path):
    path = tmp_path / "synthetic.vcf.gz"
    write_vcf(_synthetic(eur), path)
    view = subprocess.run(["bcftools", "view", "-H", str(path)], capture_output=True, text=True)
    assert view.returncode == 0 and view.stderr == "" and len(view.stdout.splitlines()) == 2000
    stats = subprocess.run(["bcftools", "stats", str(path)], capture_output=True, text=True, check=True).stdout
    assert "number of samples:\t12" in stats and "number of SNPs:\t2000" in stats
    region = subprocess.run(
        ["bcftools", "view", "-H", "-r", "22", str(path)], capture_output=True, text=True, check=True
    )
    assert len(region.stdout.splitlines()) == 187


@pytest.mark.skipif(shutil.which("plink1.9") is None, reason="plink1.9 not installed (make test installs it)")
def test_synthetic_vcf_imports_into_plink(eur, tmp_path):
    path = tmp_path / "synthetic.vcf.gz"
    write_vcf(_synthetic(eur), path)
    run = subprocess.run(
        ["plink1.9", "--vcf", str(path), "--double-id", "--make-bed", "--out", str(tmp_path / "syn")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout[-2000:]
    assert len((tmp_path / "syn.fam").read_text().splitlines()) == 12
    assert len((tmp_path / "syn.bim").read_text().splitlines()) == 2000
