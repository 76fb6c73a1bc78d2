"""The haplotype-cluster HMM (fastPHASE): its likelihood against enumeration of every cluster path,
its EM counts, and training and generation on real EUR dosages and labelled simulated haplotypes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from omicsgen.evaluate.popgen import af_correlation, ld_correlation, ld_pairs
from omicsgen.models import hmm
from omicsgen.preprocess import prepare_genotypes
from omicsgen.simulate import simulate_ooa_panel
from omicsgen.synthesize import synthesize, synthesize_marginals
from omicsgen.train import train_model
from tests.conftest import REPO

FAST = {"n_clusters": 8, "prior_weight": 0.1, "batch_size": 512, "max_epochs": 12, "patience": 3}


def random_model(n_sites: int, likelihood: str, labels: list[str], n_clusters: int, seed: int):
    """A model with random allele frequencies, cluster weights and jump probabilities."""
    generator = torch.Generator().manual_seed(seed)
    model = hmm.HaplotypeClusterHMM(n_sites, likelihood, labels, n_clusters=n_clusters)
    with torch.no_grad():
        model.allele_frequency.copy_(torch.rand(model.allele_frequency.shape, generator=generator) * 0.9 + 0.05)
        weights = torch.rand(model.cluster_weights.shape, generator=generator) + 0.1
        model.cluster_weights.copy_(weights / weights.sum(dim=2, keepdim=True))
        model.jump_probability.copy_(torch.rand(n_sites, generator=generator) * 0.8 + 0.1)
    return model


def path_probabilities(model, label: int) -> tuple[list[tuple[int, ...]], np.ndarray]:
    """Every cluster path of one haplotype and its prior probability, by enumeration."""
    weights = model.cluster_weights[label].double().numpy()
    jump = model.jump_probability.double().numpy()
    n_sites, k = weights.shape
    paths = list(itertools.product(range(k), repeat=n_sites))
    probability = np.ones(len(paths))
    for p, path in enumerate(paths):
        probability[p] = weights[0, path[0]]
        for j in range(1, n_sites):
            probability[p] *= jump[j] * weights[j, path[j]] + (1 - jump[j]) * (path[j] == path[j - 1])
    return paths, probability


@pytest.mark.parametrize(
    ("likelihood", "labels"), [("binomial", []), ("bernoulli", ["A", "B"]), ("binomial", ["A", "B"])]
)
def test_likelihood_sums_over_every_cluster_path_and_phase(likelihood, labels):
    """``log p(x | y)`` equals the sum over every cluster path of each haplotype (and so over phase),
    enumerated, for unphased dosages and for haplotypes, with and without labels."""
    n_sites, ploidy = 5, 2 if likelihood == "binomial" else 1
    model = random_model(n_sites, likelihood, labels, n_clusters=3, seed=1)
    theta = model.allele_frequency.double().numpy()
    rng = np.random.default_rng(0)
    x = rng.integers(0, ploidy + 1, size=(6, n_sites))
    y = np.array([0, 1, 1, 0, 1, 0]) if labels else np.zeros(6, dtype=int)
    expected = np.zeros(len(x))
    for label in set(y.tolist()):
        paths, prior = path_probabilities(model, label)
        # each path's probability of each allele 1 / 0 at every site
        allele = np.array([[theta[j, path[j]] for j in range(n_sites)] for path in paths])  # (paths, sites)
        for row in np.flatnonzero(y == label):
            if ploidy == 1:
                emission = np.where(x[row] == 1, allele, 1 - allele).prod(axis=1)
                expected[row] = np.log((prior * emission).sum())
            else:
                two = allele[:, None, :], allele[None, :, :]
                genotype = [(1 - two[0]) * (1 - two[1]), two[0] * (1 - two[1]) + (1 - two[0]) * two[1], two[0] * two[1]]
                emission = np.choose(x[row], genotype).prod(axis=2)  # (paths, paths)
                expected[row] = np.log((prior[:, None] * prior[None, :] * emission).sum())
    value = model.log_likelihood(torch.from_numpy(x).float(), torch.from_numpy(y) if labels else None)
    np.testing.assert_allclose(value.double().numpy(), expected, rtol=1e-5)


def test_blocks_give_the_whole_chromosome_likelihood_and_counts(monkeypatch):
    """Scoring in checkpointed blocks of sites gives the log-likelihood and EM counts of one pass; the
    counts add up: every haplotype emits one allele per site and either jumps into a site or stays,
    and each jump lands in one cluster."""
    n_sites = 23
    model = random_model(n_sites, "binomial", ["A", "B", "C"], n_clusters=4, seed=2)
    x = torch.from_numpy(np.random.default_rng(1).integers(0, 3, size=(9, n_sites))).float()
    y = torch.tensor([0, 1, 2] * 3)
    results = []
    for block in (n_sites, 5, 1):
        monkeypatch.setattr(hmm, "BLOCK_SITES", block)
        parameters = [p.double().requires_grad_(True) for p in model._probabilities()]
        value = model.log_likelihood(x, y, parameters)
        value.sum().backward()
        results.append((value.detach(), [p.detach() * p.grad for p in parameters]))
    for value, counts in results[1:]:
        torch.testing.assert_close(value, results[0][0])
        for count, reference in zip(counts, results[0][1]):
            torch.testing.assert_close(count, reference)
    ones, zeros, weights, jumps, stays = results[0][1]
    alleles = torch.full((n_sites,), 2.0 * len(x), dtype=torch.float64)
    torch.testing.assert_close((ones + zeros).sum(dim=1), alleles)
    torch.testing.assert_close((jumps + stays)[1:], alleles[1:])
    torch.testing.assert_close(weights.sum(dim=(0, 2))[1:], jumps[1:])  # every label's jumps
    torch.testing.assert_close(weights.sum(dim=(0, 2))[0], alleles[0])  # every haplotype starts in a cluster
    # each label's counts come from its own genomes only: 3 genomes, 6 haplotypes at site 0
    torch.testing.assert_close(weights[:, 0].sum(dim=1), torch.full((3,), 6.0, dtype=torch.float64))


@pytest.mark.parametrize("block", [64, 3, 1])
def test_haplotype_draws_follow_the_posterior_over_phase(block, monkeypatch):
    """The two haplotypes drawn for an unphased genome sum to it, and over many draws each ordered pair
    of haplotypes comes up as often as its posterior probability, enumerated:
    ``p(h1, h2 | g) ~ p(h1) p(h2)`` over the pairs with ``h1 + h2 = g``; the same whether the sites are
    one block or blocks that end between them."""
    monkeypatch.setattr(hmm, "BLOCK_SITES", block)
    n_sites = 4
    model = random_model(n_sites, "binomial", ["A", "B"], n_clusters=3, seed=3)
    with torch.no_grad():  # sharp clusters that rarely jump: the phase follows the cluster paths
        model.allele_frequency.copy_(
            torch.tensor([[0.95, 0.05, 0.5], [0.9, 0.95, 0.05], [0.95, 0.05, 0.1], [0.05, 0.9, 0.95]])
        )
        model.jump_probability[1:] = 0.2
    theta = model.allele_frequency.double().numpy()
    genotype, label = np.array([1, 2, 1, 1]), 1
    paths, prior = path_probabilities(model, label)
    allele = np.array([[theta[j, path[j]] for j in range(n_sites)] for path in paths])
    haplotypes = list(itertools.product((0, 1), repeat=n_sites))
    p_haplotype = {
        h: float((prior * np.where(np.array(h) == 1, allele, 1 - allele).prod(axis=1)).sum()) for h in haplotypes
    }
    pairs = [(a, b) for a in haplotypes for b in haplotypes if (np.add(a, b) == genotype).all()]
    expected = np.array([p_haplotype[a] * p_haplotype[b] for a, b in pairs])
    expected /= expected.sum()
    n = 20_000
    torch.manual_seed(0)
    x = torch.from_numpy(np.tile(genotype, (n, 1))).float()
    drawn = model.sample_haplotypes(x, torch.full((n,), label)).numpy()
    assert drawn.dtype == np.int8 and (drawn.sum(axis=1) == genotype).all()
    index = {pair: i for i, pair in enumerate(pairs)}
    counts = np.bincount([index[(tuple(h1), tuple(h2))] for h1, h2 in drawn.tolist()], minlength=len(pairs))
    # within 4 binomial standard errors of each pair's probability
    np.testing.assert_array_less(np.abs(counts / n - expected), 4 * np.sqrt(expected * (1 - expected) / n) + 1e-3)
    with pytest.raises(ValueError, match="fitted to phased haplotypes"):
        random_model(n_sites, "bernoulli", [], 3, seed=0).sample_haplotypes(x[:, :n_sites], None)


@pytest.fixture(scope="module")
def eur():
    """Real EUR 1000 Genomes dosages (379 samples x 2,000 SNPs), unlabelled."""
    return prepare_genotypes(REPO / "resources" / "eur_1kg" / "EUR_test.vcf.gz", seed=0)


def test_hmm_trains_by_em_and_generates_genomes_with_ld(eur, tmp_path):
    """On real unphased dosages, EM lowers the validation NLL; the draws are reproducible genotypes whose
    LD r2 follows the held-out genomes' (the marginals sampler's does not), none a training genome."""
    model = train_model(eur, "hmm", tmp_path / "m.ckpt", tmp_path / "h.csv", params=FAST, seed=0, threads=2)
    history = np.genfromtxt(tmp_path / "h.csv", delimiter=",", names=True)
    assert history["val_loss"][-1] < 0.8 * history["val_loss"][0]
    test = np.asarray(eur.X[(eur.obs["split"] == "test").to_numpy()])
    synthetic = synthesize(eur, model, "hmm", n_per_label=len(test), seed=0)
    assert synthetic.X.dtype == np.int8 and set(np.unique(synthetic.X)) <= {0, 1, 2}
    np.testing.assert_array_equal(synthesize(eur, model, "hmm", n_per_label=len(test), seed=0).X, synthetic.X)
    assert synthetic.uns["omicsgen"]["synthetic_method"].startswith("hmm: none")
    drawn = np.asarray(synthetic.X, dtype=np.float32)
    train = np.round(np.asarray(eur.X[(eur.obs["split"] == "train").to_numpy()]))
    assert not (drawn[:, None, :] == train[None, :, :]).all(axis=2).any()
    i, j = ld_pairs(eur.var["chrom"].to_numpy(), eur.var["pos"].to_numpy(), 50, 1_000_000)
    marginals = np.asarray(synthesize_marginals(eur, n_per_label=len(test), seed=0).X)
    hmm_ld, marginal_ld = ld_correlation(test, drawn, i, j), ld_correlation(test, marginals, i, j)
    assert hmm_ld > 0.6 and marginal_ld < 0.2, (hmm_ld, marginal_ld)
    assert af_correlation(test, drawn, 2) > 0.85


def test_labelled_haplotypes_get_their_populations_allele_frequencies(tmp_path):
    """On phased, labelled haplotypes each label's draws carry its own population's allele frequencies."""
    vcf, sheet = tmp_path / "ooa3.vcf.gz", tmp_path / "ooa3.tsv"
    simulate_ooa_panel(vcf, sheet, n_per_population=20, length_bp=300_000, seed=5)
    data = prepare_genotypes(vcf, encoding="haplotype", sample_sheet=sheet, label_key="population", seed=0)
    model = train_model(data, "hmm", tmp_path / "m.ckpt", tmp_path / "h.csv", params=FAST, seed=0, threads=2)
    synthetic = synthesize(data, model, "hmm", n_per_label=40, seed=0)
    labels = data.obs["population"].to_numpy()
    for label in np.unique(labels):
        drawn = np.asarray(synthetic.X[(synthetic.obs["population"] == label).to_numpy()], dtype=np.float64)
        own = af_correlation(np.asarray(data.X[labels == label]), drawn, 1)
        others = [
            af_correlation(np.asarray(data.X[labels == other]), drawn, 1)
            for other in np.unique(labels)
            if other != label
        ]
        assert own > max(others), (label, own, others)


@pytest.mark.parametrize(
    ("likelihood", "kwargs", "message"),
    [
        ("nb", {}, "not a genotype likelihood"),
        ("binomial", {"n_clusters": 1}, "n_clusters must be an integer >= 2"),
        ("bernoulli", {"prior_weight": 0.0}, "prior_weight must be > 0"),
    ],
)
def test_bad_settings_are_refused(likelihood, kwargs, message):
    with pytest.raises(ValueError, match=message):
        hmm.HaplotypeClusterHMM(10, likelihood, **kwargs)
