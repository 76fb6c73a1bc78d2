"""Population-genetics metrics on real 1000 Genomes EUR genotypes."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from omicsgen.evaluate.popgen import (
    af_correlation,
    ld_correlation,
    ld_decay,
    ld_decay_comparison,
    ld_pairs,
    ld_r2,
    pairwise_distance_wasserstein,
    pairwise_distances,
    pca_wasserstein,
)
from omicsgen.genotypes.vcf import read_vcf
from tests.conftest import REPO


@pytest.fixture(scope="module")
def halves():
    """EUR dosages split into two random halves of samples, the site table, and a marginals copy of half b."""
    eur = read_vcf(REPO / "resources" / "eur_1kg" / "EUR_test.vcf.gz")
    rng = np.random.default_rng(0)
    order = rng.permutation(eur.n_obs)
    a, b = eur.X[order[:189]].astype(np.float64), eur.X[order[189:378]].astype(np.float64)
    independent = np.stack([rng.permutation(column) for column in b.T], axis=1)  # same AF, LD destroyed
    return a, b, independent, eur.var


def test_ld_r2_equals_squared_pearson(halves):
    a, _, _, var = halves
    i, j = ld_pairs(var["chrom"].to_numpy(), var["pos"].to_numpy(), window_sites=5, window_bp=1_000_000)
    r2 = ld_r2(a, i, j)
    for k in (0, 10, 100):
        assert r2[k] == pytest.approx(np.corrcoef(a[:, i[k]], a[:, j[k]])[0, 1] ** 2)
    # pairs never cross chromosomes or exceed the window
    assert (var["chrom"].to_numpy()[i] == var["chrom"].to_numpy()[j]).all() and ((j - i) <= 4).all()
    assert (np.abs(var["pos"].to_numpy()[j] - var["pos"].to_numpy()[i]) <= 1_000_000).all()


@pytest.mark.skipif(shutil.which("plink1.9") is None, reason="plink1.9 not installed (make test installs it)")
def test_ld_pairs_and_r2_are_plinks(tmp_path):
    """The same site pairs and r2 as ``plink1.9 --r2 --ld-window 5 --ld-window-kb 50`` on eur_1kg."""
    path = REPO / "resources" / "eur_1kg" / "EUR_test.vcf.gz"
    command = ["plink1.9", "--vcf", str(path), "--double-id", "--r2", "--ld-window", "5", "--ld-window-kb", "50"]
    subprocess.run([*command, "--ld-window-r2", "0", "--out", str(tmp_path / "ld")], check=True, capture_output=True)
    plink = pd.read_csv(tmp_path / "ld.ld", sep=r"\s+")
    eur = read_vcf(path)
    pos = eur.var["pos"].to_numpy()
    i, j = ld_pairs(eur.var["chrom"].to_numpy(), pos, window_sites=5, window_bp=50_000)
    ours = dict(zip(zip(pos[i], pos[j]), ld_r2(eur.X.astype(np.float64), i, j)))
    theirs = dict(zip(zip(plink["BP_A"], plink["BP_B"]), plink["R2"]))
    assert set(ours) == set(theirs) and len(ours) > 1000
    assert max(abs(ours[pair] - theirs[pair]) for pair in ours) < 1e-5  # plink prints 6 digits


def test_real_halves_agree_and_marginals_lose_ld(halves):
    a, b, independent, var = halves
    i, j = ld_pairs(var["chrom"].to_numpy(), var["pos"].to_numpy(), 50, 1_000_000)
    assert af_correlation(a, b, ploidy=2) > 0.97
    assert af_correlation(a, independent, ploidy=2) == pytest.approx(af_correlation(a, b, ploidy=2))
    real_ld, lost_ld = ld_correlation(a, b, i, j), ld_correlation(a, independent, i, j)
    assert real_ld > 0.7 and abs(lost_ld) < 0.1
    # LD decays with distance in real data, not in the independent copy
    decay = ld_decay(b, var["pos"].to_numpy(), i, j)
    assert decay["mean_r2"].iloc[0] > 2 * decay["mean_r2"].iloc[-1] and decay["n_pairs"].sum() == len(i)
    flat = ld_decay(independent, var["pos"].to_numpy(), i, j)
    assert flat["mean_r2"].max() < 0.02


def test_ld_decay_comparison_band_holds_real_not_independent(halves):
    a, b, independent, var = halves
    pos = var["pos"].to_numpy()
    i, j = ld_pairs(var["chrom"].to_numpy(), pos, window_sites=50, window_bp=1_000_000)
    table = ld_decay_comparison(a, {"other half": b, "independent": independent}, pos, i, j, seed=0, n_draws=20)
    assert table.attrs["genomes_per_curve"] == len(a) // 2
    assert list(table.columns[:4]) == ["distance_bp", "band_low", "band_high", "real (test)"]
    assert (table["band_low"] <= table["band_high"]).all()
    # every curve is the median over random sets: the other real half's lies inside the band, a single
    # draw of it need not
    assert table["other half"].between(table["band_low"] - 0.005, table["band_high"] + 0.005).all()
    # the band is the spread of real subsets: another real half lies close to it, LD-free data far
    # below it wherever real LD stands above the 1/m background of unlinked sites (below 100 kb)
    assert (table["other half"] > table["band_low"] - 0.02).all()
    linked = table["distance_bp"] < 100_000
    assert linked.sum() >= 3 and (table.loc[linked, "independent"] < table.loc[linked, "band_low"] / 2).all()
    # seeded: the same seed gives the same table
    again = ld_decay_comparison(a, {"other half": b, "independent": independent}, pos, i, j, seed=0, n_draws=20)
    pd.testing.assert_frame_equal(table, again)


def test_pca_and_pairwise_distances(halves):
    a, b, independent, _ = halves
    same = np.mean(pca_wasserstein(a, b))
    assert same < np.mean(pca_wasserstein(a, independent)) and same < 1.5
    shifted = np.clip(b + 1, 0, 2)
    assert np.mean(pca_wasserstein(a, shifted)) > 5 * same
    d = pairwise_distances(a[:10])
    assert d.shape == (45,) and d[0] == np.abs(a[0] - a[1]).sum()
    assert pairwise_distance_wasserstein(a, b) < pairwise_distance_wasserstein(a, independent)
