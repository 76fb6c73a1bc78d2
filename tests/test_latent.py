import numpy as np
import torch

import omicsgen.latent
from omicsgen.contract import RECONSTRUCTION_MSE, label_codes
from omicsgen.io import dense
from omicsgen.latent import embed, encoder_latent, pca_latent
from omicsgen.preprocess import metric_scale


def test_encoder_latent_shapes_and_reconstruction_error(prepared, trained):
    model = trained[0]
    latent, mse = encoder_latent(prepared, model, batch_size=128)
    assert latent.shape == (prepared.n_obs, 6) and latent.dtype == np.float32
    assert mse.shape == (prepared.n_obs,) and np.isfinite(mse).all() and (mse > 0).all()
    # each cell's MSE against the decoded mean at its latent, on the log1p-normalised scale
    x = torch.from_numpy(dense(prepared.X[:5]))
    y = model.conditioning(torch.from_numpy(label_codes(prepared, model.labels)[:5]))
    with torch.no_grad():
        decoded = model.decode(model.encode(x)[0], y, x.sum(dim=1, keepdim=True)).numpy()
    expected = ((metric_scale(x.numpy(), "counts") - metric_scale(decoded, "counts")) ** 2).mean(axis=1)
    np.testing.assert_allclose(mse[:5], expected, rtol=1e-4)
    # batching does not change the result
    again, mse_again = encoder_latent(prepared, model, batch_size=1000)
    np.testing.assert_allclose(latent, again, atol=1e-5)
    np.testing.assert_allclose(mse, mse_again, rtol=1e-4)


def test_pca_latent_fitted_on_train(prepared, monkeypatch):
    latent, mse = pca_latent(prepared, 6, seed=0, batch_size=128)
    assert latent.shape == (prepared.n_obs, 6) and mse.shape == (prepared.n_obs,)
    train = prepared.obs["split"].to_numpy() == "train"
    np.testing.assert_allclose(latent[train].mean(axis=0), 0, atol=1e-3)  # centred on training cells
    assert abs(latent[~train].mean(axis=0)).max() > 1e-3
    assert mse[~train].mean() > mse[train].mean() > 0  # held-out cells are reconstructed worse
    # on large data the fit uses a seeded subset of the training cells
    monkeypatch.setattr(omicsgen.latent, "PCA_FIT_CELLS", 100)
    small, _ = pca_latent(prepared, 6, seed=0)
    np.testing.assert_array_equal(small, pca_latent(prepared, 6, seed=0)[0])
    assert small.shape == latent.shape and not np.allclose(small, latent, atol=1e-3)


def test_embed_adds_obsm_and_reconstruction_error(prepared):
    latent, mse = pca_latent(prepared, 6, seed=0)
    out = embed(prepared, latent, mse, "pca", n_neighbors=10, seed=0)
    assert out.obsm["X_pca"].shape == (prepared.n_obs, 6)
    assert out.obsm["X_pca_pca"].shape == (prepared.n_obs, 6)
    assert out.obsm["X_pca_umap"].shape == (prepared.n_obs, 2)
    np.testing.assert_array_equal(out.obs[RECONSTRUCTION_MSE].to_numpy(), mse)
    assert out.uns["omicsgen"]["latent_key"] == "X_pca" and not out.layers
    assert "X_pca" not in prepared.obsm  # input untouched
    again = embed(prepared, latent, mse, "pca", n_neighbors=10, seed=0)
    np.testing.assert_array_equal(out.obsm["X_pca_umap"], again.obsm["X_pca_umap"])


def test_umap_starts_from_pca_above_the_spectral_limit(prepared, monkeypatch):
    latent, mse = pca_latent(prepared, 6, seed=0)
    spectral = embed(prepared, latent, mse, "pca", n_neighbors=10, seed=0).obsm["X_pca_umap"]
    monkeypatch.setattr(omicsgen.latent, "SPECTRAL_INIT_CELLS", 100)  # as for a million cells
    out = embed(prepared, latent, mse, "pca", n_neighbors=10, seed=0)
    from_pca, pc1 = out.obsm["X_pca_umap"], out.obsm["X_pca_pca"][:, 0]
    assert np.isfinite(from_pca).all() and not np.allclose(spectral, from_pca) and "X_umap_init" not in out.obsm
    # the layout keeps the latent's first PC: cells ordered along PC1 stay ordered along the UMAP
    assert abs(np.corrcoef(pc1, from_pca[:, 0])[0, 1]) > 0.5
