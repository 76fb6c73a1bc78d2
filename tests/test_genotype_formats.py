"""One cohort as VCF, BCF, PLINK .bed, PLINK 2 .pgen and VCF Zarr gives one matrix; PLINK written back.

The filesets are made from the VCF by plink1.9, plink2 and bio2zarr's vcf2zarr themselves, from
the real 1000 Genomes EUR file with missing calls added, and from the simulated phased panel.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
import yaml

from omicsgen import steps
from omicsgen.errors import InputError
from omicsgen.genotypes import blocks, genotype_format, read_genotypes
from omicsgen.genotypes.plink import write_plink
from omicsgen.preprocess import prepare_genotypes
from omicsgen.simulate import simulate_ooa_panel
from tests.conftest import REPO, snakemake, write_test_config

EUR = REPO / "resources" / "eur_1kg" / "EUR_test.vcf.gz"
VCF2ZARR = Path(sys.executable).with_name("vcf2zarr")
needs_plink = pytest.mark.skipif(
    shutil.which("plink1.9") is None or shutil.which("plink2") is None,
    reason="plink1.9/plink2 not installed (make test installs them)",
)
SITE_COLUMNS = ["chrom", "pos", "id", "ref", "alt"]


def _run(*command) -> None:
    subprocess.run([str(c) for c in command], check=True, capture_output=True)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """EUR with 60, 6 and 3 calls blanked at its first 3 sites, as VCF, BCF, .bed, .pgen and .vcz
    (made by bcftools, plink1.9, plink2 and vcf2zarr)."""
    out = tmp_path_factory.mktemp("cohort")
    lines, n_site = [], 0
    for line in gzip.open(EUR, "rt"):
        if not line.startswith("#") and n_site < 3:
            fields = line.rstrip("\n").split("\t")
            for k in range(9 + 7 * n_site, 9 + 7 * n_site + (60, 6, 3)[n_site]):
                fields[k] = "./."
            line = "\t".join(fields) + "\n"
            n_site += 1
        lines.append(line)
    (out / "cohort.vcf").write_text("".join(lines))
    vcf = out / "cohort.vcf.gz"
    pysam.tabix_index(str(out / "cohort.vcf"), preset="vcf", force=True)
    files = {"vcf": vcf}
    _run("bcftools", "view", "-Ob", "-o", out / "cohort.bcf", vcf)
    _run("bcftools", "index", out / "cohort.bcf")
    files["bcf"] = out / "cohort.bcf"
    if shutil.which("plink1.9") and shutil.which("plink2"):
        _run("plink1.9", "--vcf", vcf, "--keep-allele-order", "--double-id", "--make-bed", "--out", out / "cohort")
        _run("plink2", "--vcf", vcf, "--make-pgen", "--out", out / "cohort")
        files["bed"], files["pgen"] = out / "cohort.bed", out / "cohort.pgen"
    _run(VCF2ZARR, "convert", vcf, out / "cohort.vcz")
    files["vcz"] = out / "cohort.vcz"
    return files


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    out = tmp_path_factory.mktemp("panel")
    simulate_ooa_panel(out / "ooa3.vcf.gz", out / "ooa3.tsv", n_per_population=10, length_bp=200_000, seed=5)
    return out / "ooa3.vcf.gz"


def test_format_detection():
    assert [genotype_format(p) for p in ("a.vcf.gz", "a.bcf", "a.bed", "a.pgen", "a.vcz", "a.vcz/")] == [
        "vcf",
        "vcf",
        "bed",
        "pgen",
        "vcz",
        "vcz",
    ]


@needs_plink
def test_every_format_gives_the_same_matrix(cohort, tmp_path):
    header = pysam.VariantFile(str(cohort["vcf"])).header
    wanted = list(header.samples)[::3][:80][::-1]  # a subset, not in file order
    options = dict(samples=wanted, regions=["21", "22:16000000-17000000"], min_maf=0.05, min_call_rate=0.9)
    options["missing"] = "mode"
    read = {fmt: read_genotypes(path, **options) for fmt, path in cohort.items()}
    reference = read["vcf"]
    assert reference.uns["vcf"]["sites_dropped"]["low_call_rate"] >= 1  # a blanked site fell to --geno
    assert reference.uns["vcf"]["genotypes_imputed"] > 0
    for fmt, adata in read.items():
        assert adata.uns["vcf"]["format"] == ("vcf" if fmt == "bcf" else fmt)
        np.testing.assert_array_equal(adata.X, reference.X, err_msg=fmt)
        assert list(adata.obs_names) == wanted, fmt
        pd.testing.assert_frame_equal(
            adata.var[SITE_COLUMNS].astype(str), reference.var[SITE_COLUMNS].astype(str), obj=fmt
        )
        np.testing.assert_allclose(adata.var["af"], reference.var["af"], err_msg=fmt)
        # the cohort is unphased (0/1): encoding auto reads dosages from every format, a .bed included
        auto = read_genotypes(cohort[fmt], encoding="auto", **options)
        assert auto.uns["vcf"]["encoding"] == "dosage", fmt
        np.testing.assert_array_equal(auto.X, reference.X, err_msg=fmt)


@needs_plink
def test_plink_dosage_counts_alt_as_plink_recode_does(cohort, tmp_path):
    # plink2 --export A (the .raw table, columns <id>_<counted allele>): an independent decoder of the .pgen
    _run("plink2", "--pfile", cohort["pgen"].with_suffix(""), "--export", "A", "--out", tmp_path / "raw")
    raw = pd.read_csv(tmp_path / "raw.raw", sep="\t")
    ours = read_genotypes(cohort["pgen"], min_maf=0, min_call_rate=0, missing="drop_site")
    table = raw.iloc[:, 6:].to_numpy()
    complete = ~np.isnan(table).any(axis=0)
    counted = np.array([c.rsplit("_", 1)[1] for c in raw.columns[6:]])[complete]
    alt_dosage = np.where(counted == ours.var["alt"].to_numpy(), table[:, complete], 2 - table[:, complete])
    assert (counted == ours.var["ref"].to_numpy()).any() or (counted == ours.var["alt"].to_numpy()).all()
    np.testing.assert_array_equal(ours.X, alt_dosage.astype(np.int8))


def test_phased_pgen_round_trip_keeps_haplotypes(panel, tmp_path):
    haplotypes = read_genotypes(panel, encoding="haplotype")
    haplotypes.uns["omicsgen"] = {"encoding": "haplotype"}
    write_plink(haplotypes, tmp_path / "syn.pgen")
    back = read_genotypes(tmp_path / "syn.pgen", encoding="auto", min_maf=0, min_call_rate=0)
    assert back.uns["vcf"]["encoding"] == "haplotype"  # the .pgen's phase is found
    np.testing.assert_array_equal(back.X, haplotypes.X)
    assert back.uns["vcf"]["contigs"] == haplotypes.uns["vcf"]["contigs"]
    assert list(back.obs["sample"].unique()) == list(haplotypes.obs["sample"].unique())


@needs_plink
def test_written_filesets_read_back_and_pass_plink(cohort, tmp_path):
    dosage = read_genotypes(cohort["vcf"], missing="mode")
    dosage.uns["omicsgen"] = {"encoding": "dosage"}
    for fmt, flag in (("bed", "--bfile"), ("pgen", "--pfile")):
        out = tmp_path / f"syn.{fmt}"
        write_plink(dosage, out)
        assert not list(tmp_path.glob(".*tmp*"))  # staged files replaced, none left behind
        back = read_genotypes(out, min_maf=0, min_call_rate=0)
        np.testing.assert_array_equal(back.X, dosage.X, err_msg=fmt)
        _run("plink2", flag, out.with_suffix(""), "--freq", "--out", tmp_path / f"freq_{fmt}")
        freq = pd.read_csv(tmp_path / f"freq_{fmt}.afreq", sep="\t")
        np.testing.assert_allclose(freq["ALT_FREQS"], dosage.X.mean(axis=0) / 2, atol=1e-6)
    _run("plink1.9", "--bfile", tmp_path / "syn", "--freq", "--out", tmp_path / "freq19")


# --- bad input: one clear error naming the file and what to do, and no output -----------------


def _fails(tmp_path, match: str, input: Path, **params) -> str:
    output = tmp_path / "out" / "preprocessed.h5ad"
    with pytest.raises(InputError, match=match) as info:
        steps.preprocess_vcf(str(input), str(output), **params)
    assert not output.parent.exists() or not any(output.parent.iterdir())
    assert str(input) in str(info.value)
    return str(info.value)


def _copy_fileset(source: Path, tmp_path: Path) -> Path:
    for file in source.parent.glob(f"{source.stem}.*"):
        if file.suffix in (".bed", ".bim", ".fam", ".pgen", ".pvar", ".psam"):
            shutil.copy(file, tmp_path / file.name)
    return tmp_path / source.name


@needs_plink
@pytest.mark.parametrize("side", [".bim", ".fam"])
def test_missing_side_file(cohort, tmp_path, side):
    bed = _copy_fileset(cohort["bed"], tmp_path)
    bed.with_suffix(side).unlink()
    _fails(tmp_path, f"incomplete, .*{side} not found", bed)


@needs_plink
def test_sample_count_mismatch(cohort, tmp_path):
    bed = _copy_fileset(cohort["bed"], tmp_path)
    fam = bed.with_suffix(".fam")
    # a .bed stores 4 samples per byte, so only a count that changes the byte count shows (as for plink)
    fam.write_text(fam.read_text() + "".join(f"extra{i} extra{i} 0 0 0 -9\n" for i in range(5)))
    message = _fails(tmp_path, "384 samples", bed)
    assert "truncated or does not belong" in message
    pgen = _copy_fileset(cohort["pgen"], tmp_path)
    psam = pgen.with_suffix(".psam")
    psam.write_text("".join(psam.read_text().splitlines(keepends=True)[:-1]))
    _fails(tmp_path, "378 samples", pgen)


@needs_plink
def test_truncated_bed(cohort, tmp_path):
    bed = _copy_fileset(cohort["bed"], tmp_path)
    bed.write_bytes(bed.read_bytes()[:-100])
    _fails(tmp_path, "truncated", bed)


@needs_plink
def test_unsorted_bim_stops_with_the_plink_fix(cohort, tmp_path):
    bed = _copy_fileset(cohort["bed"], tmp_path)
    bim = bed.with_suffix(".bim")
    rows = bim.read_text().splitlines(keepends=True)
    rows[10], rows[11] = rows[11], rows[10]
    bim.write_text("".join(rows))
    message = _fails(tmp_path, "not sorted by position", bed)
    assert "--sort-vars" in message


@needs_plink
def test_haplotypes_asked_of_a_bed(cohort, tmp_path):
    _fails(tmp_path, "holds no phase", cohort["bed"], encoding="haplotype")


def test_not_a_vcz_store(tmp_path):
    store = tmp_path / "empty.vcz"
    store.mkdir()
    _fails(tmp_path, "Zarr store", store)


@needs_plink
def test_sample_sheet_against_a_fileset(cohort, tmp_path):
    sheet = tmp_path / "samples.tsv"
    sheet.write_text("sample\tpop\nnot_there\tA\n")
    message = _fails(tmp_path, "not in", cohort["pgen"], sample_sheet=str(sheet), label_key="pop")
    assert "psam" in message
    header = pysam.VariantFile(str(cohort["vcf"])).header
    sheet.write_text("sample\tpop\n" + "".join(f"{s}\t{'AB'[i % 2]}\n" for i, s in enumerate(header.samples)))
    adata = prepare_genotypes(cohort["bed"], sample_sheet=sheet, label_key="pop", missing="mode")
    assert adata.uns["omicsgen"]["label_key"] == "pop" and set(adata.obs["split"]) == {"train", "val", "test"}


@needs_plink
def test_workflow_plans_plink_outputs_for_plink_inputs(cohort, tmp_path):
    config = yaml.safe_load(write_test_config(tmp_path, datasets=("eur_1kg",), models=["vae"]).read_text())
    entry = config["datasets"].pop("eur_1kg")
    config["datasets"] = {
        "cohort_bed": {**entry, "path": str(cohort["bed"])},
        "cohort_vcz": {**entry, "path": str(cohort["vcz"])},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "-n", "--configfile", str(tmp_path / "config.yaml"))
    assert result.returncode == 0, result.stderr[-2000:]
    plan = result.stdout
    for model in ("vae", "marginals"):
        assert (
            f"results/cohort_bed/{model}/synthetic.bed" in plan and f"results/cohort_bed/{model}/synthetic.fam" in plan
        )
        assert f"results/cohort_vcz/{model}/synthetic.vcf.gz" in plan
    assert str(cohort["bed"].with_suffix(".bim")) in plan  # the side files are the job's inputs
    assert "results/cohort_vcz/vae/synthetic.bed" not in plan and "synthetic.pgen" not in plan


@needs_plink
def test_large_inputs_decode_in_a_worker_with_the_same_result(cohort, tmp_path, monkeypatch):
    in_process = {fmt: read_genotypes(cohort[fmt], missing="mode") for fmt in ("bed", "pgen", "vcz")}
    monkeypatch.setattr(blocks, "ISOLATE_BYTES", 0)  # every matrix counts as large: the worker path
    for fmt, expected in in_process.items():
        np.testing.assert_array_equal(read_genotypes(cohort[fmt], missing="mode").X, expected.X, err_msg=fmt)
    bed = _copy_fileset(cohort["bed"], tmp_path)
    bim = bed.with_suffix(".bim")
    rows = bim.read_text().splitlines(keepends=True)
    bim.write_text("".join([rows[1], rows[0], *rows[2:]]))
    _fails(tmp_path, "not sorted by position", bed)  # the worker's InputError reaches the step


@needs_plink
def test_every_format_gives_the_same_preprocessed_h5ad(cohort, tmp_path):
    import anndata as ad

    written = {}
    for fmt, path in cohort.items():
        output = tmp_path / fmt / "preprocessed.h5ad"
        steps.preprocess_vcf(str(path), str(output), missing="sample_af", seed=3, min_maf=0.02)
        written[fmt] = ad.read_h5ad(output)
    reference = written["vcf"]
    for fmt, adata in written.items():
        np.testing.assert_array_equal(adata.X, reference.X, err_msg=fmt)  # imputation draws included
        assert list(adata.obs["split"]) == list(reference.obs["split"]), fmt
        assert list(adata.var_names) == list(reference.var_names), fmt


def test_report_of_an_unphased_store_names_its_phasing(cohort, tmp_path):
    """A VCF Zarr store read with ``encoding: auto`` is unphased dosages: the report says so and which model
    trained on the HMM's haplotypes, and that Beagle phasing needs the store written as a VCF first."""
    from omicsgen.evaluate.utility import PER_LABEL_COLUMNS
    from omicsgen.report import build_report

    preprocessed = tmp_path / "preprocessed.h5ad"
    steps.preprocess_vcf(str(cohort["vcz"]), str(preprocessed), missing="sample_af", seed=3, min_maf=0.02)
    (tmp_path / "history.csv").write_text("epoch,train_loss,val_loss\n1,340.0,350.0\n2,330.0,345.0\n")
    training = {
        "family": "ar",
        "n_train": 16,
        "budget": {"rule": "auto", "max_epochs": 2, "patience": 30},
        "epochs_run": 2,
        "device": "cpu",
        "curves": {"columns": ["train_loss", "val_loss"], "ylabel": "negative log-likelihood (nats per haplotype)"},
        "phased": {"method": "hmm", "draws": 4, "genomes": 4},
        "stopped_by": "the epoch budget",
    }
    (tmp_path / "training.json").write_text(json.dumps(training))
    files = {
        "preprocessed": str(preprocessed),
        "history": {"ar": str(tmp_path / "history.csv")},
        "training": {"ar": str(tmp_path / "training.json")},
    }
    settings = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["evaluate"]
    metrics = pd.DataFrame(columns=["dataset", "model", "metric", "value", "low", "high"])
    per_label = pd.DataFrame(columns=["dataset", "model", *PER_LABEL_COLUMNS])
    build_report(metrics, per_label, {"cohort": files}, tmp_path / "report.html", settings)
    html = " ".join((tmp_path / "report.html").read_text().split())
    assert "The input is unphased and is modelled as dosages, except by ar, trained on haplotypes drawn" in html
    assert "takes VCF or BCF input" in html and "<code>vcztools view</code>" in html
    assert "in the dataset's config, Beagle 5" not in html  # the VCF input's sentence
