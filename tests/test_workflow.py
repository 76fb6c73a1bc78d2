"""The real Snakemake workflow: end-to-end run on pbmc68k and its errors on bad input."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
import yaml

from omicsgen.evaluate import tidy_metrics
from omicsgen.evaluate.metrics import compare, ranked
from omicsgen.io import read_h5ad
from omicsgen.registry import training_resources
from tests.conftest import REPO, TEST_CONFIG, snakemake, write_test_config

PRIVACY = {"mmd", "detection_auroc", "aats", "aa_truth", "aa_syn", "privacy_loss", "membership_inference_auroc"} | {
    "dcr",
    "dcr_holdout",
    "n_identical_to_train",
}
UTILITY = {"trtr_accuracy", "tstr_accuracy", "real_macro_f1", "augmented_macro_f1", "augmentation_recall_gain"}
EXPRESSION = {"mean_correlation", "variance_correlation", "gene_correlation"}
GENERATION = EXPRESSION | {"zero_fraction_correlation"} | PRIVACY | UTILITY  # zeros per gene: single-cell counts
POPGEN = {"af_correlation", "ld_correlation", "pca_wasserstein", "pairwise_distance_wasserstein"}
LATENT = {"reconstruction_error", "knn_accuracy", "silhouette"}
MODELS = ("ae", "vae", "gan", "pca", "marginals", "real", "copy")  # and the evaluation's controls
GENOTYPE_MODELS = ("ae", "vae", "gan", "ar", "hmm", "pca", "marginals", "real", "copy")  # ar, hmm: genotypes only
GENERATORS = ("ae", "vae", "gan", "marginals")


def _expected(latent: set, generation: set, genotypes: bool = False) -> dict[str, set]:
    """Metrics per model: encoders (ae, vae) have both kinds, the gan, ar and hmm (genotypes only),
    marginals and controls generation only, pca latent only."""
    return {
        "ae": latent | generation,
        "vae": latent | generation,
        "gan": generation,
        **({"ar": generation, "hmm": generation} if genotypes else {}),
        "pca": latent,
        "marginals": generation,
        "real": generation,
        "copy": generation,
    }


# dataset -> model -> metrics (augmentation_recall_gain is empty where no label is rare: simulated_ooa3)
METRICS = {
    # no rare pbmc68k label has 10 test cells in the reference half: no recall gain is judged
    "pbmc68k": _expected(LATENT, GENERATION - {"augmentation_recall_gain"}),
    # real genotypes, unlabelled: no k-NN, silhouette or classifier utility
    "eur_1kg": _expected({"reconstruction_error"}, POPGEN | PRIVACY, genotypes=True),
    "simulated_ooa3": _expected(LATENT, POPGEN | PRIVACY | UTILITY - {"augmentation_recall_gain"}, genotypes=True),
    # real alignments as pileup windows, unlabelled
    "na12878_chrM": _expected({"reconstruction_error"}, EXPRESSION | PRIVACY),
}


@pytest.mark.e2e
def test_lint():
    result = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0 and "Congratulations" in result.stdout + result.stderr, result.stdout + result.stderr


@pytest.mark.e2e
def test_outputs_content(run_dir):
    results = run_dir / "results" / "pbmc68k"
    real = read_h5ad(results / "preprocessed.h5ad")
    assert real.shape == (700, 300)
    prov = real.uns["omicsgen"]["provenance"]
    assert len(prov["inputs"]["input"]["sha256"]) == 64 and "torch" in prov["versions"]

    for model in ("ae", "vae"):
        latent = read_h5ad(results / model / "latent.h5ad")
        for key, dims in {f"X_{model}": 8, f"X_{model}_pca": 8, f"X_{model}_umap": 2}.items():
            assert latent.obsm[key].shape == (700, dims) and np.isfinite(latent.obsm[key]).all()
    assert read_h5ad(results / "pca" / "latent.h5ad").obsm["X_pca"].shape == (700, 8)
    assert not (results / "gan" / "latent.h5ad").exists()  # no encoder, no latent
    for model in ("ar", "hmm"):  # the site-ordered families run on genotypes only
        assert not (results / model).exists()

    for model in GENERATORS:
        synth = read_h5ad(results / model / "synthetic.h5ad")
        assert synth.n_obs == 20 * 10 and synth.n_vars == 300
        assert synth.obs["synthetic"].all() and (synth.obs["bulk_labels"].value_counts() == 20).all()

    for model, epochs in (("ae", 8), ("vae", 8)):
        history = pd.read_csv(results / model / "history.csv")
        assert 1 <= len(history) <= epochs and history["val_loss"].notna().all()
        run = json.loads((results / model / "training.json").read_text())
        assert run["budget"]["max_epochs"] == epochs and run["n_train"] == 488
        # the kept checkpoint's score is the history's best epoch; a run that used its whole budget says so
        assert run["best_val_loss"] == pytest.approx(history["val_loss"].min(), rel=1e-5)
        assert run["stopped_by"] == ("epoch budget" if len(history) == epochs else "early stopping")
    gan = pd.read_csv(results / "gan" / "history.csv")
    run = json.loads((results / "gan" / "training.json").read_text())
    assert run["budget"]["generator_steps"] == run["generator_steps_run"] == 30  # max_steps of the test config
    assert len(gan) == run["epochs_run"] == 19  # 30 x 5 critic batches at 8 batches (488 cells / 64) per epoch
    assert np.isfinite(gan[["train_critic_loss", "train_generator_loss", "val_wasserstein"]]).all().all()
    for model in ("ae", "vae", "gan"):
        assert (results / model / "model.ckpt").stat().st_size > 0


@pytest.mark.e2e
def test_metrics_table(run_dir):
    wide = pd.read_csv(run_dir / "results" / "metrics.tsv", sep="\t")
    # the comparison table: one row per dataset x model, in config order; per metric its value and interval
    assert list(wide.columns[:5]) == ["dataset", "model", "reconstruction_error"] + [
        f"reconstruction_error_{end}" for end in ("low", "high")
    ]
    assert list(zip(wide["dataset"], wide["model"])) == [
        (d, m) for d in METRICS for m in (GENOTYPE_MODELS if "ar" in METRICS[d] else MODELS)
    ]
    table = tidy_metrics(wide)
    for dataset, models in METRICS.items():
        for model, metrics in models.items():
            assert set(table.loc[(table["dataset"] == dataset) & (table["model"] == model), "metric"]) == metrics
    values = table[table["dataset"] == "pbmc68k"].set_index(["model", "metric"])["value"]
    for model in ("ae", "vae", "pca"):
        assert 0.1 < values[(model, "knn_accuracy")] <= 1  # 10 labels: chance is about 0.1-0.3
        assert -1 <= values[(model, "silhouette")] <= 1
        assert values[(model, "reconstruction_error")] > 0
    for model in GENERATORS:
        assert 0 <= values[(model, "detection_auroc")] <= 1
        assert -1 <= values[(model, "mean_correlation")] <= 1 and values[(model, "mean_correlation")] > 0.5
        assert values[(model, "mmd")] > -0.05
        assert 0 <= values[(model, "aats")] <= 1 and values[(model, "dcr")] > 0
        aa = values[(model, "aa_truth")], values[(model, "aa_syn")]
        assert (
            values[(model, "aats")] == pytest.approx(sum(aa) / 2)
            and 0 <= values[(model, "membership_inference_auroc")] <= 1
        )
        assert values[(model, "n_identical_to_train")] >= 0
        assert 0 < values[(model, "tstr_accuracy")] <= 1
    # the controls: held-out real cells leak nothing, training cells returned as synthetic are caught
    full = table.set_index(["dataset", "model", "metric"]).sort_index()[["value", "low", "high"]]
    for dataset in METRICS:
        real, copy = full.loc[(dataset, "real")], full.loc[(dataset, "copy")]
        mia = "membership_inference_auroc"
        assert compare(mia, tuple(copy.loc[mia]), tuple(real.loc[mia])) == "worse"
        # a copy's distance to its training sample: 0 up to float32 rounding of the Euclidean expansion
        assert copy.loc[mia, "value"] == 1.0 and copy.loc["dcr", "value"] == pytest.approx(0, abs=1e-5)
        assert (table["low"].isna() | (table["low"] <= table["value"] + 1e-9)).all()
    genotypes = table[table["dataset"] != "pbmc68k"].set_index(["dataset", "model", "metric"])["value"]
    for dataset in ("eur_1kg", "simulated_ooa3"):
        for model in GENERATORS:
            assert 0 <= genotypes[(dataset, model, "aats")] <= 1 and genotypes[(dataset, model, "pca_wasserstein")] >= 0
        for model in ("ae", "vae", "marginals"):
            assert 0.8 < genotypes[(dataset, model, "af_correlation")] <= 1
        assert -1 <= genotypes[(dataset, "gan", "af_correlation")] <= 1  # a 20-epoch GAN: in range, not yet close
        # independent sites carry no LD beyond what per-label allele frequencies induce
        assert abs(genotypes[(dataset, "marginals", "ld_correlation")]) < 0.4
        assert -1 <= genotypes[(dataset, "vae", "ld_correlation")] <= 1
    # three simulated populations separate in the latent of every encoder
    for model, floor in (("pca", 0.8), ("ae", 0.6), ("vae", 0.6)):
        assert genotypes[("simulated_ooa3", model, "knn_accuracy")] > floor


@pytest.mark.e2e
def test_paired_comparisons(run_dir):
    comparisons = pd.read_csv(run_dir / "results" / "comparisons.tsv", sep="\t")
    table = tidy_metrics(pd.read_csv(run_dir / "results" / "metrics.tsv", sep="\t"))
    by = comparisons.set_index(["dataset", "model", "other", "metric"])
    assert by.index.is_unique
    mirror = {"better": "worse", "worse": "better", "indistinguishable": "indistinguishable", "untested": "untested"}
    for (dataset, model, other, metric), row in by.iterrows():
        back = by.loc[(dataset, other, model, metric)]
        assert back["difference"] == pytest.approx(-row["difference"]) and back["verdict"] == mirror[row["verdict"]]
        assert row["low"] <= row["difference"] + 1e-9 <= row["high"] + 2e-9
    for dataset, models in METRICS.items():
        # every generator and the copy control share the reference genomes and resamples of the
        # marginals sampler, on every ranked generation metric they have
        for model in [m for m in models if m in (*GENERATORS, "ar", "hmm", "copy") and m != "marginals"]:
            have = set(table.loc[(table["dataset"] == dataset) & (table["model"] == model), "metric"])
            paired = set(
                comparisons.loc[
                    (comparisons["dataset"] == dataset)
                    & (comparisons["model"] == model)
                    & (comparisons["other"] == "marginals"),
                    "metric",
                ]
            )
            assert paired == {m for m in have - LATENT if ranked(m) and m in models["marginals"]}, (dataset, model)
        # the copies give their training samples away: membership inference worse than the marginals'
        assert by.loc[(dataset, "copy", "marginals", "membership_inference_auroc"), "verdict"] == "worse"


@pytest.mark.e2e
def test_augmentation_table(run_dir):
    per_label = pd.read_csv(run_dir / "results" / "augmentation.tsv", sep="\t")
    # labelled datasets only, every generator and control, every label of the reference half once
    assert set(per_label["dataset"]) == {"pbmc68k", "simulated_ooa3"}
    for dataset, generators in {"pbmc68k": GENERATORS, "simulated_ooa3": (*GENERATORS, "ar", "hmm")}.items():
        assert set(per_label.loc[per_label["dataset"] == dataset, "model"]) == {*generators, "real", "copy"}
    pbmc = per_label[per_label["dataset"] == "pbmc68k"]
    assert len(pbmc) == 6 * pbmc["label"].nunique() and pbmc["label"].nunique() >= 8
    assert not pbmc.loc[pbmc["rare"], "judged"].any()  # fewer than 10 reference test cells each
    assert set(pbmc.loc[pbmc["rare"], "label"]) >= {"CD34+"}
    for column in ("recall_real", "recall_augmented", "recall_synthetic_only"):
        assert per_label[column].between(0, 1).all()
    # the real-trained classifier is the same for every model
    assert pbmc.groupby("label")["recall_real"].nunique().max() == 1


@pytest.mark.e2e
def test_pileup_outputs(run_dir):
    real = read_h5ad(run_dir / "results" / "na12878_chrM" / "preprocessed.h5ad")
    assert real.shape == (165, 900) and list(real.uns["bam"]["tensor_shape"]) == [100, 9]
    assert real.uns["omicsgen"]["likelihood"] == "nb"
    synthetic = read_h5ad(run_dir / "results" / "na12878_chrM" / "vae" / "synthetic.h5ad")
    assert synthetic.n_vars == 900 and list(synthetic.uns["bam"]["tensor_shape"]) == [100, 9]


@pytest.mark.e2e
def test_site_ordered_families_ask_the_cluster_by_genotypes_not_file_size(run_dir, tmp_path):
    """ar and hmm train jobs request memory and time from the preprocessed matrix's shape, their
    threads and their config (registry.training_resources); the others from the input file's size."""
    targets = [f"results/eur_1kg/{m}/model.ckpt" for m in ("ar", "hmm", "ae")]
    hmm = {"max_epochs": 400, "n_clusters": 64}  # 10x the iterations and 16x the states of the default
    config_path = write_test_config(tmp_path, **{f"hmm.{key}": value for key, value in hmm.items()})
    result = snakemake(run_dir, "-n", "--configfile", str(config_path), "--forcerun", "train", "--", *targets)
    assert result.returncode == 0, result.stderr[-3000:]
    requests = {}
    for job in (result.stdout + result.stderr).split("rule train:")[1:]:
        model = re.search(r"model=(\w+)", job).group(1)
        requests[model] = tuple(int(re.search(rf"\b{key}=(\d+)", job).group(1)) for key in ("mem_mb", "runtime"))
    n_obs, n_vars = read_h5ad(run_dir / "results" / "eur_1kg" / "preprocessed.h5ad").shape
    config = yaml.safe_load(TEST_CONFIG.read_text())  # eur_1kg's small input file: 1 thread a job
    assert requests["hmm"] == training_resources("hmm", n_obs, n_vars, 1, hmm)
    # ar on eur_1kg's dosages with the schema's default phase: hmm trains on 2 x 4 haplotypes per genome
    ar = {**config["ar"], "phase": "hmm", "phase_draws": 4}
    assert requests["ar"] == training_resources("ar", n_obs, n_vars, 1, ar)
    assert requests["ar"][0] > training_resources("ar", n_obs, n_vars, 1, config["ar"])[0]
    assert requests["hmm"][1] > 600 and requests["ae"][1] == 60  # the file-size rule: 60 min + 1,500 per GB


@pytest.mark.e2e
def test_genotype_outputs(run_dir, tmp_path):
    results = run_dir / "results"
    eur = read_h5ad(results / "eur_1kg" / "preprocessed.h5ad")
    assert eur.shape == (379, 2000) and eur.X.dtype == np.int8 and eur.uns["omicsgen"]["likelihood"] == "binomial"
    panel = read_h5ad(results / "simulated_ooa3" / "preprocessed.h5ad")
    # the panel is phased and its encoding left at auto: two rows (haplotypes) per sample
    assert panel.n_obs == 2 * 90 and panel.uns["omicsgen"]["encoding"] == "haplotype"
    assert set(panel.obs["population"]) == {"YRI", "CEU", "CHB"}
    assert all(name.startswith("sim-") for name in panel.obs_names)  # named as simulated
    for dataset, n in (("eur_1kg", 20), ("simulated_ooa3", 60)):
        for model in (*GENERATORS, "ar", "hmm"):
            vcf = results / dataset / model / "synthetic.vcf.gz"
            with pysam.VariantFile(str(vcf)) as handle:
                samples = list(handle.header.samples)
                records = list(handle.fetch())
                n_records = len(records)
                phased = {rec.samples[s].phased for rec in records[:50] for s in samples}
            assert phased == {dataset == "simulated_ooa3"}  # phased where the input was
            assert len(samples) == n and all(s.startswith("synthetic-") for s in samples)
            assert n_records == read_h5ad(results / dataset / "preprocessed.h5ad").n_vars
            if shutil.which("bcftools"):  # installed by make test (tests/tools/install_debian_tools.sh)
                view = subprocess.run(["bcftools", "view", "-H", str(vcf)], capture_output=True, text=True)
                assert view.returncode == 0 and len(view.stdout.splitlines()) == n_records
                stats = subprocess.run(["bcftools", "stats", str(vcf)], capture_output=True, text=True)
                assert f"number of SNPs:\t{n_records}" in stats.stdout
            if shutil.which("plink1.9"):  # plink 1.9 splits sample IDs at "_": synthetic-<i> reads as it is
                out = tmp_path / f"{dataset}_{model}"
                command = ["plink1.9", "--vcf", str(vcf), "--freq", "--out", str(out)]
                plink = subprocess.run(command, capture_output=True)
                assert plink.returncode == 0 and out.with_suffix(".frq").exists(), plink.stdout[-500:]


@pytest.mark.e2e
def test_report_is_self_contained(run_dir):
    html = (run_dir / "results" / "report.html").read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    # pbmc68k: training curves, latent UMAP, real vs synthetic PCA, zeros per gene; eur_1kg (unlabelled,
    # no UMAP): training curves, PCA, allele frequencies, LD heatmaps, LD decay, pairwise distances,
    # privacy; simulated_ooa3: the same and its UMAP; na12878_chrM: training curves, PCA, depth profile
    assert len(images) == 4 + 7 + 8 + 3
    assert "Depth profile, real vs synthetic" in html and "Zeros per gene, synthetic vs real" in html
    assert "LD decay" in html and "Allele frequencies, synthetic vs real" in html
    assert all(base64.b64decode(img)[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    assert "knn_accuracy" in html and "detection_auroc" in html
    verdict = r"(beats|does NOT beat|is indistinguishable from)"
    assert re.search(rf"vae {verdict} pca on knn_accuracy \(\d\.\d{{3}} \[", html)  # value [interval]
    assert re.search(rf"gan {verdict} marginals on detection_auroc", html)
    # every dataset opens with its scorecard, before its plots; the verdict list comes last, collapsed
    for dataset in METRICS:
        section = html[html.index(f"<h2>Dataset {dataset}</h2>") :]
        assert section.index("<h3>Scorecard</h3>") < section.index("<img") < section.index("<details>")
    assert "(control)" in html and "real control" in html
    assert "gan has no encoder" in html and "Augmentation experiment" in html
    # at pbmc68k's 70 reference cells the real control ties marginals on some fidelity metric: the report says so
    pbmc = html[html.index("<h2>Dataset pbmc68k</h2>") :]
    assert "control itself cannot be told from marginals on" in pbmc.split("<h2>Dataset")[1]
    # eur_1kg is unphased (dosages): the report says that phase: beagle would phase it; ooa3 is phased
    eur, ooa3 = (html[html.index(f"<h2>Dataset {d}</h2>") :][:3000] for d in ("eur_1kg", "simulated_ooa3"))
    assert "The input is unphased" in eur and "<code>phase: beagle</code>" in eur and "unphased" not in ooa3
    # ar (phase: hmm) trained on haplotypes drawn from eur_1kg's HMM, and models ooa3's haplotypes as they are
    assert "modelled as dosages, except by ar, trained on haplotypes drawn" in eur
    sections = {
        d: html[html.index(f"<h2>Dataset {d}</h2>") :].split("<h2>Dataset")[1] for d in ("eur_1kg", "simulated_ooa3")
    }
    drawn = "trained on haplotypes drawn from the posterior of the hmm model, 4 draws of each of 265 training genomes"
    assert drawn in sections["eur_1kg"] and "trained on haplotypes drawn" not in sections["simulated_ooa3"]
    # ar keeps, from its best validation NLL on, the epoch of the closest generated LD (ar.select: ld)
    assert all("kept (from the best validation NLL on, the closest generated LD" in sections[d] for d in sections)
    assert "gan 30 of 30 generator steps in 19 epochs (config budget for 488 training observations)" in html
    # the few-epoch test models are worse than a baseline somewhere beyond the noise, and the report lists where
    assert "Where a model is worse than its baseline beyond the noise" in html
    # nothing loaded from outside (images removed first: base64 data can spell "http" by chance)
    text = re.sub(r'src="data:image/png;base64,[A-Za-z0-9+/=]+"', "", html)
    assert not re.search(r'(src|href)="(https?:)?//', text) and "http" not in text


@pytest.mark.e2e
def test_rerun_is_noop(run_dir):
    result = snakemake(run_dir, "--configfile", str(TEST_CONFIG), "-n")
    assert result.returncode == 0 and "Nothing to be done" in result.stdout + result.stderr


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            {"vae.max_epochs": "ten"},
            "config key 'vae.max_epochs': 'ten' is not of type 'integer' or 'auto' was expected; see config/README.md",
        ),
        ({"vae.n_latnt": 4}, "config key 'vae': Additional properties are not allowed ('n_latnt' was unexpected)"),
        (
            {"datasets.pbmc68k.path": "data/missing.h5ad"},
            "config key 'datasets.pbmc68k.path': file 'data/missing.h5ad' not found",
        ),
        (
            {"datasets.eur_1kg.n_top_genes": 100},
            "config key 'datasets.eur_1kg.n_top_genes': applies to modality 'h5ad', not 'vcf'",
        ),
        (
            {"datasets.eur_1kg.label": "population"},
            "config key 'datasets.eur_1kg.label': a vcf dataset reads labels from its sample_sheet",
        ),
        ({"datasets.eur_1kg.missing": "zero"}, "config key 'datasets.eur_1kg.missing': 'zero' is not one of"),
        ({"datasets.eur_1kg.phase": "shapeit"}, "config key 'datasets.eur_1kg.phase': 'shapeit' is not one of"),
        ({"datasets.pbmc68k.phase": "beagle"}, "config key 'datasets.pbmc68k.phase': applies to modality 'vcf'"),
    ],
)
def test_bad_config_fails_fast(tmp_path, changes, message):
    result = snakemake(tmp_path, "-n", "--configfile", str(write_test_config(tmp_path, **changes)))
    assert result.returncode != 0
    assert message in result.stderr + result.stdout
    assert not (tmp_path / "results").exists()


def _bad_h5ad(pbmc, kind: str, path: Path) -> None:
    bad = pbmc.copy()
    counts = bad.layers["counts"].toarray()
    if kind == "nan":
        counts[10, 20] = np.nan
    elif kind == "negative":
        counts[10, 20] = -3
    bad.layers["counts"] = counts
    bad.write_h5ad(path)


@pytest.mark.parametrize(
    "kind, changes, message",
    [
        ("nan", {}, "NaN or infinite value at cell"),
        ("negative", {"datasets.pbmc68k.likelihood": "nb"}, "negative value at cell"),
        ("ok", {"datasets.pbmc68k.label": "celltype"}, "label column 'celltype' not in obs"),
    ],
)
def test_bad_data_one_line_error_no_output(tmp_path, pbmc, kind, changes, message):
    data = tmp_path / "bad.h5ad"
    _bad_h5ad(pbmc, kind, data)
    config = write_test_config(tmp_path, **{"datasets.pbmc68k.path": str(data), **changes})
    result = snakemake(tmp_path, "results/pbmc68k/preprocessed.h5ad", "--configfile", str(config))
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("omicsgen: error:")]
    assert len(lines) == 1 and message in lines[0] and str(data) in lines[0]
    assert lines[0] in (tmp_path / "results" / "logs" / "preprocess" / "pbmc68k.log").read_text()  # the rule's log too
    # nothing half-written either: no output, no temporary file
    assert not list(tmp_path.glob("results/pbmc68k/*.h5ad")) and not list(tmp_path.glob("results/pbmc68k/.*.tmp"))


def test_bad_vcf_region_one_line_error_no_output(tmp_path):
    config = write_test_config(tmp_path, **{"datasets.eur_1kg.regions": ["chr21:1-1000000"]})
    result = snakemake(tmp_path, "results/eur_1kg/preprocessed.h5ad", "--configfile", str(config))
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("omicsgen: error:")]
    assert len(lines) == 1 and "EUR_test.vcf.gz: region 'chr21:1-1000000' names contig 'chr21'" in lines[0]
    assert not list(tmp_path.glob("results/eur_1kg/*"))
