"""AE, VAE and WGAN-GP on every input kind, the autoregressive model on genotypes: training,
conditional synthesis with per-label counts, metrics.

Real data: pbmc68k counts (10 cell types), EUR 1000 Genomes dosages (unlabelled), NA12878 chrM
pileup windows (unlabelled), and a small simulated, labelled YRI/CEU/CHB panel as dosages and as
haplotypes.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from omicsgen.budget import gan_epochs, generator_step_budget
from omicsgen.contract import GENOTYPE_ENCODINGS
from omicsgen.evaluate import evaluate_model
from omicsgen.evaluate.popgen import af_correlation, lag_r2, ld_correlation, ld_pairs
from omicsgen.genotypes.phasing import hmm_haplotypes
from omicsgen.latent import embed, encoder_latent
from omicsgen.preprocess import prepare_alignments, prepare_genotypes
from omicsgen.simulate import simulate_ooa_panel
from omicsgen.synthesize import synthesize, synthesize_marginals, synthetic_counts, training_groups
from omicsgen.train import ClosestLDAfterBestLikelihood, load_model, train_model
from tests.conftest import FAST_AE, FAST_VAE, REPO

FAST = {
    "ae": FAST_AE,
    "vae": FAST_VAE,
    "gan": {
        "n_noise": 16,
        "n_hidden": 64,
        "n_layers": 2,
        "lr": 2e-4,
        "n_critic": 5,
        "gp_weight": 10.0,
        "batch_size": 64,
        "max_steps": 24,
        "space": "latent",
    },
}
FAST["gan_data"] = {**FAST["gan"], "space": "data"}
FAST["ar"] = {
    "context": 8,
    "lr": 1e-2,
    "weight_decay": 1e-4,
    "lr_plateau_patience": 10,
    "select": "val_loss",
    "batch_size": 128,
    "max_epochs": 6,
    "patience": 3,
}
HISTORY_COLUMNS = {
    "ae": {"train_loss", "val_loss"},
    "vae": {"train_loss", "val_loss", "train_kl", "kl_weight"},
    "ar": {"train_loss", "val_loss"},
    "gan": {
        "train_critic_loss",
        "train_wasserstein",
        "train_gradient_penalty",
        "train_generator_loss",
        "val_wasserstein",
    },
}
HISTORY_COLUMNS["gan_data"] = HISTORY_COLUMNS["gan"]
N = 12  # synthetic samples per label


def fit(data, family: str, out, params: dict | None = None, **kwargs):
    """Train ``family`` (``gan_data``: the GAN in data space) with the FAST settings on ``data`` in ``out``;
    a latent-space GAN first gets its AE (FAST settings), as the workflow's train rule does."""
    params = {**FAST[family], **(params or {})}
    autoencoder = None
    if family.startswith("gan") and params["space"] == "latent":
        autoencoder = out / "ae.ckpt"
        train_model(data, "ae", autoencoder, out / "ae.csv", params=FAST["ae"], seed=0, threads=2)
    name = "gan" if family.startswith("gan") else family
    return train_model(
        data,
        name,
        out / "model.ckpt",
        out / "history.csv",
        params=params,
        seed=0,
        threads=2,
        autoencoder=autoencoder,
        **kwargs,
    )


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    out = tmp_path_factory.mktemp("panel")
    simulate_ooa_panel(out / "ooa3.vcf.gz", out / "ooa3.tsv", n_per_population=20, length_bp=300_000, seed=5)
    return out / "ooa3.vcf.gz", out / "ooa3.tsv"


@pytest.fixture(scope="module")
def datasets(prepared, panel):
    vcf, sheet = panel
    labelled = {"sample_sheet": sheet, "label_key": "population", "seed": 0}
    return {
        "counts": prepared,
        "dosage": prepare_genotypes(REPO / "resources" / "eur_1kg" / "EUR_test.vcf.gz", seed=0),
        "dosage_labelled": prepare_genotypes(vcf, encoding="dosage", **labelled),
        "haplotype_labelled": prepare_genotypes(vcf, encoding="haplotype", **labelled),
        "pileup": prepare_alignments(
            str(REPO / "resources" / "na12878_chrM" / "na12878-chrM-Y-trunc.bam"),
            shape="pileup",
            reference=str(REPO / "resources" / "na12878_chrM" / "chrM-Y-trunc.hg19.fa"),
            regions=["chrM"],
            window=100,
        ),
    }


@pytest.mark.parametrize("family", ["ae", "vae", "gan", "gan_data"])
@pytest.mark.parametrize("kind", ["counts", "dosage", "dosage_labelled", "haplotype_labelled", "pileup"])
def test_family_trains_generates_and_scores(datasets, kind, family, tmp_path):
    data = datasets[kind]
    info = data.uns["omicsgen"]
    model = fit(data, family, tmp_path)
    family = "gan" if family == "gan_data" else family
    history = pd.read_csv(tmp_path / "history.csv")
    assert HISTORY_COLUMNS[family] <= set(history.columns)
    assert np.isfinite(history[sorted(HISTORY_COLUMNS[family] - {"train_generator_loss"})].to_numpy()).all()
    assert model.n_labels == (data.obs[info["label_key"]].nunique() if info["label_key"] else 0)

    synthetic = synthesize(data, model, family, n_per_label=N, seed=0)
    rows = 2 * N if info["encoding"] == "haplotype" else N
    groups = training_groups(data)
    assert synthetic.n_obs == rows * len(groups) and synthetic.n_vars == data.n_vars
    if info["label_key"]:
        assert (synthetic.obs[info["label_key"]].value_counts() == rows).all()
    assert synthetic.obs["synthetic"].all() and not set(synthetic.obs_names) & set(data.obs_names)
    X = synthetic.X.toarray() if hasattr(synthetic.X, "toarray") else np.asarray(synthetic.X)
    if info["encoding"] in GENOTYPE_ENCODINGS:
        ploidy = 1 if info["encoding"] == "haplotype" else 2
        assert synthetic.X.dtype == np.int8 and set(np.unique(X)) <= set(range(ploidy + 1))
    else:
        assert np.all(X >= 0) and np.all(X == np.round(X))
    again = synthesize(data, model, family, n_per_label=N, seed=0).X
    np.testing.assert_array_equal(again.toarray() if hasattr(again, "toarray") else again, X)

    latent = None
    if family != "gan":
        codes, mse = encoder_latent(data, model)
        assert codes.shape == (data.n_obs, FAST[family]["n_latent"]) and np.isfinite(mse).all()
        latent = embed(data, codes, mse, family, n_neighbors=10, seed=0)
    else:
        with pytest.raises(ValueError, match="no encoder"):
            encoder_latent(data, model)
    metrics, per_label = evaluate_model(
        data, dataset=kind, model=family, latent=latent, synthetic=synthetic, detection_trees=30, threads=2
    )
    values = metrics.set_index("metric")["value"]
    assert np.isfinite(values.drop("augmentation_recall_gain", errors="ignore")).all()
    assert 0 <= values["aats"] <= 1 and -1 <= values["privacy_loss"] <= 1
    assert values["dcr"] >= 0 and 0 <= values["n_identical_to_train"] <= synthetic.n_obs
    assert 0 <= values["detection_auroc"] <= 1 and values["mmd"] > -0.05  # unbiased: scatters around 0
    if info["encoding"] in GENOTYPE_ENCODINGS:
        assert -1 <= values["af_correlation"] <= 1 and values["pca_wasserstein"] >= 0
    else:
        assert -1 <= values["mean_correlation"] <= 1
    if info["label_key"]:
        assert 0 <= values["tstr_accuracy"] <= 1 and not per_label.empty
    assert ("knn_accuracy" in values.index) == (family != "gan" and bool(info["label_key"]))


@pytest.mark.parametrize("kind", ["dosage", "dosage_labelled", "haplotype_labelled"])
def test_autoregressive_model_generates_genotypes(datasets, kind, tmp_path):
    """The autoregressive model on genotypes: per-label allele counts, reproducible draws, every metric."""
    data = datasets[kind]
    info = data.uns["omicsgen"]
    model = train_model(data, "ar", tmp_path / "m.ckpt", tmp_path / "h.csv", params=FAST["ar"], seed=0, threads=2)
    history = pd.read_csv(tmp_path / "h.csv")
    assert np.isfinite(history[["train_loss", "val_loss"]].to_numpy()).all()
    synthetic = synthesize(data, model, "ar", n_per_label=N, seed=0)
    rows = 2 * N if info["encoding"] == "haplotype" else N
    assert synthetic.shape == (rows * len(training_groups(data)), data.n_vars) and synthetic.X.dtype == np.int8
    assert set(np.unique(synthetic.X)) <= set(range(2 if info["encoding"] == "haplotype" else 3))
    if info["label_key"]:
        assert (synthetic.obs[info["label_key"]].value_counts() == rows).all()
    np.testing.assert_array_equal(synthesize(data, model, "ar", n_per_label=N, seed=0).X, synthetic.X)
    assert synthetic.uns["omicsgen"]["synthetic_method"].startswith("ar: none")  # no latent, no training genome
    metrics, _ = evaluate_model(data, dataset=kind, model="ar", synthetic=synthetic, detection_trees=30, threads=2)
    values = metrics.set_index("metric")["value"]
    assert np.isfinite(values.drop("augmentation_recall_gain", errors="ignore")).all()


def test_autoregressive_model_carries_ld(datasets, tmp_path):
    """On the EUR 1000 Genomes dosages, the model's LD r2 follows the held-out genomes' where the
    independent-marginals sampler's does not."""
    data = datasets["dosage"]
    params = {**FAST["ar"], "context": 16, "batch_size": 32, "max_epochs": 80, "patience": 10}
    model = train_model(data, "ar", tmp_path / "m.ckpt", tmp_path / "h.csv", params=params, seed=0, threads=2)
    test = np.asarray(data.X[(data.obs["split"] == "test").to_numpy()])
    i, j = ld_pairs(data.var["chrom"].to_numpy(), data.var["pos"].to_numpy(), 50, 1_000_000)
    synthetic = np.asarray(synthesize(data, model, "ar", n_per_label=len(test), seed=0).X)
    marginals = np.asarray(synthesize_marginals(data, n_per_label=len(test), seed=0).X)
    ar_ld, marginal_ld = ld_correlation(test, synthetic, i, j), ld_correlation(test, marginals, i, j)
    assert ar_ld > 0.6 and marginal_ld < 0.2, (ar_ld, marginal_ld)
    assert af_correlation(test, synthetic, 2) > 0.85


def test_lag_r2_is_the_squared_correlation_of_sites_t_apart():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, size=(40, 30)).astype(np.float32)
    x[:, 5] = 1  # monomorphic: its pairs are left out
    x[:, 7] = x[:, 6]  # r2 1 at lag 1
    expected = []
    for t in range(1, 5):
        r2 = [np.corrcoef(x[:, j], x[:, j + t])[0, 1] ** 2 for j in range(30 - t) if 5 not in (j, j + t)]
        expected.append(np.mean(r2))
    np.testing.assert_allclose(lag_r2(x, 4), expected, rtol=1e-10)


def test_kept_epoch_is_the_closest_ld_from_the_best_likelihood_on(tmp_path):
    """A new best validation NLL restarts the search; an earlier epoch of closer LD does not count."""
    from types import SimpleNamespace

    saved = []
    trainer = SimpleNamespace(sanity_checking=False, current_epoch=0, callback_metrics={})
    trainer.save_checkpoint = lambda path, weights_only: saved.append(trainer.current_epoch)
    keep = ClosestLDAfterBestLikelihood(tmp_path / "best.ckpt")
    losses = [5.0, 4.0, 4.5, 4.2, 3.9, 4.0, 4.1, 4.3]
    gaps = [0.5, 0.3, 0.1, 0.05, 0.2, 0.15, 0.08, 0.09]  # epoch 3's 0.05 came before the best NLL
    for epoch, (loss, gap) in enumerate(zip(losses, gaps)):
        trainer.current_epoch = epoch
        trainer.callback_metrics = {"val_loss": torch.tensor(loss), "val_ld_gap": torch.tensor(gap)}
        keep.on_validation_end(trainer, None)
    assert saved == [0, 1, 2, 3, 4, 5, 6] and keep.kept_epoch == 6 and keep.best_model_score == pytest.approx(0.08)
    resumed = ClosestLDAfterBestLikelihood(tmp_path / "best.ckpt")
    resumed.load_state_dict(keep.state_dict())
    assert resumed.best_val_loss == pytest.approx(3.9) and resumed.kept_epoch == 6


def test_autoregressive_model_selected_by_generated_ld(datasets, tmp_path):
    """``select: ld``: every epoch logs ``val_ld_gap``; training stops as with ``select: val_loss`` (the same
    validation NLLs: the check's draws leave training as it was), and the kept epoch is, from the best
    validation NLL on, the one of least ``val_ld_gap``."""
    data = datasets["haplotype_labelled"]
    runs = {}
    for select in ("ld", "val_loss"):
        params = {**FAST["ar"], "select": select, "batch_size": 16, "max_epochs": 12, "patience": 4}
        run = tmp_path / f"{select}.json"
        model = train_model(
            data,
            "ar",
            tmp_path / f"{select}.ckpt",
            tmp_path / f"{select}.csv",
            params=params,
            seed=0,
            threads=2,
            training=run,
        )
        runs[select] = (pd.read_csv(tmp_path / f"{select}.csv"), json.loads(run.read_text()), model)
    history, summary, model = runs["ld"]
    np.testing.assert_allclose(history["val_loss"], runs["val_loss"][0]["val_loss"], rtol=1e-6)
    gaps, best = history["val_ld_gap"].to_numpy(), int(history["val_loss"].idxmin())
    assert np.isfinite(gaps).all() and gaps.min() < gaps[0]
    assert summary["best_val_loss"] == pytest.approx(history["val_loss"].min(), rel=1e-5)
    kept = best + int(np.argmin(gaps[best:]))
    assert summary["kept"] == {"epoch": kept, "val_ld_gap": pytest.approx(gaps[kept], rel=1e-5)}
    assert "kept" not in runs["val_loss"][1]
    # the check draws the same rows every time and leaves torch's generator where it was
    val = (data.obs["split"] == "val").to_numpy()
    model._ld_reference = [(torch.from_numpy(np.asarray(data.X[val], dtype=np.float32)), None)]
    model.label_logits = None  # unconditional draws suffice here
    state = torch.get_rng_state()
    assert model.ld_gap() == model.ld_gap() and torch.equal(torch.get_rng_state(), state)
    with pytest.raises(ValueError, match="ar.select must be"):
        train_model(
            data, "ar", tmp_path / "x.ckpt", tmp_path / "x.csv", params={**FAST["ar"], "select": "aats"}, seed=0
        )


def test_autoregressive_model_phased_by_the_hmm(datasets, tmp_path):
    """``phase: hmm`` on the unphased dosages of the simulated, labelled panel: the haplotypes drawn from the
    fitted HMM's posterior sum to the genotypes and recover most of the simulation's true phase; the
    model trains on them and generates each genome of each label as the dosage of two haplotypes."""
    dosage, truth = datasets["dosage_labelled"], datasets["haplotype_labelled"]
    hmm_params = {"n_clusters": 8, "prior_weight": 0.1, "batch_size": 512, "max_epochs": 12, "patience": 3}
    phaser = tmp_path / "hmm.ckpt"
    hmm = train_model(dosage, "hmm", phaser, tmp_path / "hmm.csv", params=hmm_params, seed=0, threads=2)
    haplotypes = hmm_haplotypes(dosage, hmm, draws=2, seed=0)
    split = dosage.obs["split"].to_numpy()
    n_train, n_val = int((split == "train").sum()), int((split == "val").sum())
    assert haplotypes.shape == (2 * (2 * n_train + n_val), dosage.n_vars) and haplotypes.X.dtype == np.int8
    genomes = haplotypes.obs["sample"].to_numpy()[::2]
    np.testing.assert_array_equal(
        haplotypes.X.reshape(-1, 2, dosage.n_vars).sum(axis=1), np.asarray(dosage[genomes].X, dtype=np.int8)
    )
    # switch errors between consecutive heterozygous sites, first draw of each training genome
    first = haplotypes[(haplotypes.obs["draw"] == 0) & (haplotypes.obs["haplotype"] == 1)]
    true_first = truth[(truth.obs["haplotype"] == 1).to_numpy()]
    true_first = np.asarray(true_first.X)[pd.Index(true_first.obs["sample"]).get_indexer(first.obs["sample"])]
    genotypes = np.asarray(dosage[first.obs["sample"].to_numpy()].X)
    switches = heterozygous_pairs = 0
    for drawn, true, genotype in zip(np.asarray(first.X), true_first, genotypes):
        agree = drawn[genotype == 1] == true[genotype == 1]
        switches += int((agree[1:] != agree[:-1]).sum())
        heterozygous_pairs += max(0, len(agree) - 1)
    assert switches / heterozygous_pairs < 0.15, switches / heterozygous_pairs  # random phase: 0.5

    params = {**FAST["ar"], "phase": "hmm", "phase_draws": 2}
    run = tmp_path / "training.json"
    model = train_model(
        dosage,
        "ar",
        tmp_path / "m.ckpt",
        tmp_path / "h.csv",
        params=params,
        seed=0,
        threads=2,
        training=run,
        phaser=phaser,
    )
    summary = json.loads(run.read_text())
    assert summary["phased"] == {"method": "hmm", "draws": 2, "genomes": n_train} and summary["n_train"] == 4 * n_train
    assert model.hparams.haplotypes_per_row == 2 and model.lag_weights.shape[2:] == (1, 1)  # a haplotype model
    synthetic = synthesize(dosage, model, "ar", n_per_label=N, seed=0)
    assert synthetic.shape == (3 * N, dosage.n_vars) and set(np.unique(synthetic.X)) == {0, 1, 2}
    assert (synthetic.obs["population"].value_counts() == N).all()
    assert 0.5 < (synthetic.X == 1).mean() / (np.asarray(dosage.X) == 1).mean() < 1.5  # heterozygosity
    with pytest.raises(ValueError, match="needs the checkpoint of the HMM fitted to them"):
        train_model(dosage, "ar", tmp_path / "n.ckpt", tmp_path / "n.csv", params=params, seed=0, threads=2)
    # phased data are modelled as they are: no HMM needed, one haplotype per row
    model = train_model(truth, "ar", tmp_path / "p.ckpt", tmp_path / "p.csv", params=params, seed=0, threads=2)
    assert model.hparams.haplotypes_per_row == 1


def test_autoregressive_windows_give_the_whole_chromosome_likelihood(datasets, monkeypatch):
    """Scoring in windows of sites (recomputed in the backward pass) gives the log-likelihood and gradients
    of one pass over all sites."""
    from omicsgen.models import ar

    data = datasets["dosage_labelled"]
    torch.manual_seed(0)
    model = ar.Autoregressive(data.n_vars, "binomial", ["CEU", "CHB", "YRI"], context=8)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.3)
    x = torch.from_numpy(np.asarray(data.X[:16], dtype=np.float32))
    y = torch.tensor([0, 1, 2, 0] * 4)
    results = []
    for window in (data.n_vars, 7, 1000):  # one window; windows shorter than the context; uneven windows
        monkeypatch.setattr(ar, "WINDOW_SITES", window)
        model.zero_grad()
        value = model.log_likelihood(x, y)
        value.sum().backward()
        results.append((value.detach(), model.lag_weights.grad.clone(), model.site_logits.grad.clone()))
    for value, lag_grad, site_grad in results[1:]:
        torch.testing.assert_close(value, results[0][0], rtol=1e-5, atol=1e-3)
        torch.testing.assert_close(lag_grad, results[0][1], rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(site_grad, results[0][2], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("kind", "likelihood"), [("dosage", "binomial"), ("haplotype_labelled", "bernoulli")])
def test_autoregressive_model_starts_at_the_first_order_markov_chain(datasets, kind, likelihood):
    """Before training, the model's likelihood is the training genomes' adjacent-site Markov chain
    (counted here independently, pseudo-count 1 toward the site frequencies), on dosages (2 x 2 lag
    weights, where a transposed matrix would show) and labelled haplotypes; on one site, the
    site's frequencies."""
    from omicsgen.models import ar

    data = datasets[kind]
    train = np.asarray(data.X[(data.obs["split"] == "train").to_numpy()]).round().astype(int)
    n_classes = train.max() + 1
    labels = sorted(data.obs["population"].unique()) if kind.endswith("labelled") else []
    y = torch.zeros(len(train), dtype=torch.long) if labels else None

    def expected_log_likelihood(genotypes):
        single = np.stack([(genotypes == c).sum(0) for c in range(n_classes)], axis=1) + 1.0
        frequency = single / single.sum(1, keepdims=True)
        total = np.log(frequency[0, genotypes[:, 0]])
        for j in range(1, genotypes.shape[1]):
            pair = np.zeros((n_classes, n_classes))
            np.add.at(pair, (genotypes[:, j - 1], genotypes[:, j]), 1)
            conditional = (pair + frequency[j]) / (pair.sum(1, keepdims=True) + 1)
            total = total + np.log(conditional[genotypes[:, j - 1], genotypes[:, j]])
        independent = np.log(frequency[np.arange(genotypes.shape[1]), genotypes]).sum(1)
        return total, independent

    for genotypes in (train[:, :1], train):  # one site, then the whole chromosome
        model = ar.Autoregressive(genotypes.shape[1], likelihood, labels, context=4)
        x = torch.from_numpy(genotypes.astype(np.float32))
        model.prepare([(x[:50], None), (x[50:], None)])  # batches are summed, in any split
        with torch.no_grad():
            markov = model.log_likelihood(x, y).numpy()
        expected, independent = expected_log_likelihood(genotypes)
        np.testing.assert_allclose(markov, expected, rtol=1e-4)
    # the whole-chromosome check has power: the data carry LD, so the chain is not independent sites
    assert expected.mean() > independent.mean() + 0.05 * abs(independent.mean())


def test_autoregressive_context_auto_gives_each_encoding_the_same_lag_weights(datasets, tmp_path):
    """``context: auto`` is 16 sites on dosages and 64 on haplotypes (64 lag weights per site either
    way), kept in the checkpoint; anything but ``auto`` or a positive integer is an error."""
    from omicsgen.models import ar

    for kind, likelihood, sites in (("dosage", "binomial", 16), ("haplotype_labelled", "bernoulli", 64)):
        model = ar.Autoregressive(datasets[kind].n_vars, likelihood, context="auto")
        assert model.hparams.context == sites
        assert model.lag_weights[:, 0].numel() == ar.LAG_WEIGHTS_PER_SITE
    data = datasets["haplotype_labelled"]
    params = {**FAST["ar"], "context": "auto", "max_epochs": 1}
    train_model(data, "ar", tmp_path / "m.ckpt", tmp_path / "h.csv", params=params, seed=0, threads=2)
    assert load_model(tmp_path / "m.ckpt", "ar").hparams.context == 64
    for bad in (0, "16", True):
        with pytest.raises(ValueError, match="ar.context must be 'auto' or at least 1 site"):
            ar.Autoregressive(data.n_vars, "bernoulli", context=bad)


def test_autoregressive_model_needs_genotypes(prepared, tmp_path):
    with pytest.raises(ValueError, match="not a genotype likelihood"):
        train_model(prepared, "ar", tmp_path / "m.ckpt", tmp_path / "h.csv", params=FAST["ar"], seed=0, threads=2)


@pytest.mark.parametrize("family", ["ae", "vae", "gan", "gan_data"])
def test_conditional_decoder_uses_the_label(prepared, family, tmp_path):
    model = fit(prepared, family, tmp_path, {"max_steps": 5} if family.startswith("gan") else {"max_epochs": 3})
    assert model.labels == list(prepared.obs["bulk_labels"].cat.categories)
    n_latent = model.hparams.get("n_latent", model.hparams.get("n_noise"))
    z = torch.zeros(2, n_latent)
    with torch.no_grad():
        out = model.decode(z, torch.tensor([0, 1]), torch.full((2, 1), 1000.0))
    assert not torch.allclose(out[0], out[1])  # same latent, different label: different cells
    with pytest.raises(ValueError, match="pass the label codes"):
        model.decode(z, None, torch.full((2, 1), 1000.0))


def test_top_up_counts(prepared, trained):
    groups = training_groups(prepared)
    counts = synthetic_counts(prepared, 30, "top_up")
    for label, idx in groups.items():
        assert counts[label] == max(0, 30 - len(idx))
    assert counts["CD34+"] == 30 - len(groups["CD34+"]) > 0 and counts["CD14+ Monocyte"] == 0
    for synthetic in (
        synthesize(prepared, trained[0], "vae", 30, seed=0, per_label="top_up"),
        synthesize_marginals(prepared, 30, seed=0, per_label="top_up"),
    ):
        observed = synthetic.obs["bulk_labels"].astype(str).value_counts()
        assert observed.to_dict() == {label: n for label, n in counts.items() if n}
    with pytest.raises(ValueError, match="nothing to top up"):
        synthetic_counts(prepared, 2, "top_up")
    with pytest.raises(ValueError, match="not 'fixed' or 'top_up'"):
        synthetic_counts(prepared, 2, "proportional")


def test_gan_on_default_settings_makes_cells_a_classifier_cannot_tell_from_real(prepared, tmp_path):
    """The default config's AE and latent GAN on real pbmc68k counts: the auto budget in generator steps, no
    NaN, a bounded gradient penalty, and synthetic cells that a random forest barely tells from held-out real
    ones (the data-space GAN's are told apart at AUROC 0.99 here), of the right cell types."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert config["gan"]["space"] == "latent"
    n_train = int((prepared.obs["split"] == "train").sum())
    train_model(prepared, "ae", tmp_path / "ae.ckpt", tmp_path / "ae.csv", params=config["ae"], seed=0, threads=2)
    gan = train_model(
        prepared,
        "gan",
        tmp_path / "gan.ckpt",
        tmp_path / "history.csv",
        params=config["gan"],
        seed=0,
        threads=2,
        training=tmp_path / "training.json",
        autoencoder=tmp_path / "ae.ckpt",
    )
    history = pd.read_csv(tmp_path / "history.csv")
    run = json.loads((tmp_path / "training.json").read_text())
    steps = generator_step_budget(n_train, 64, 5)
    assert run["budget"] == {"rule": "auto", "generator_steps": steps, "max_epochs": gan_epochs(n_train, 64, 5, steps)}
    assert run["generator_steps_run"] == steps and run["stopped_by"] == "generator step budget"
    assert len(history) == run["epochs_run"] and np.isfinite(history.drop(columns="epoch").to_numpy()).all()
    # after the first epochs the gradient penalty holds the critic near 1-Lipschitz
    assert history["train_gradient_penalty"].iloc[10:].max() < 5

    synthetic = synthesize(prepared, gan, "gan", n_per_label=50, seed=0)
    assert "latent GAN" in synthetic.uns["omicsgen"]["synthetic_method"]
    metrics, _ = evaluate_model(
        prepared, dataset="pbmc68k", model="gan", synthetic=synthetic, detection_trees=100, threads=2, n_bootstrap=0
    )
    values = metrics.set_index("metric")["value"]
    assert values["detection_auroc"] < 0.75, values["detection_auroc"]  # 0.54 when written
    assert values["tstr_accuracy"] > 0.85 * values["trtr_accuracy"], values[["tstr_accuracy", "trtr_accuracy"]]
    assert values["variance_correlation"] > 0.85 and values["n_identical_to_train"] == 0


def test_latent_gan_plays_in_a_frozen_autoencoders_code_space(datasets, tmp_path):
    """The latent GAN's critic and generator work on the AE's codes; the AE in its checkpoint is the trained
    one, unchanged by GAN training; a missing AE, or one trained on other data, is an error."""
    data = datasets["dosage_labelled"]
    ae_path = tmp_path / "ae.ckpt"
    autoencoder = train_model(data, "ae", ae_path, tmp_path / "ae.csv", params=FAST["ae"], seed=0, threads=2)
    run = {"params": FAST["gan"], "seed": 0, "threads": 2}
    gan = train_model(data, "gan", tmp_path / "gan.ckpt", tmp_path / "h.csv", autoencoder=ae_path, **run)
    n_latent = FAST["ae"]["n_latent"]
    assert gan.critic.body[0].in_features == n_latent and gan.generator.out.out_features == n_latent
    expected = autoencoder.state_dict()
    assert all(torch.equal(value, expected[name]) for name, value in gan.autoencoder.state_dict().items())
    assert not any(p.requires_grad for p in gan.autoencoder.parameters())
    gan.train()
    assert not gan.autoencoder.training  # no dropout in the codes the critic sees

    with pytest.raises(ValueError, match="needs the checkpoint of the trained autoencoder"):
        train_model(data, "gan", tmp_path / "g.ckpt", tmp_path / "g.csv", **run)
    other = datasets["haplotype_labelled"]
    with pytest.raises(ValueError, match="retrain it on the same preprocessed data"):
        train_model(other, "gan", tmp_path / "g.ckpt", tmp_path / "g.csv", autoencoder=ae_path, **run)
