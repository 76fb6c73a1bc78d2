import numpy as np

from omicsgen.latent import RECONSTRUCTED, embed, pca_latent, encoder_latent


def test_encoder_latent_shapes_and_scale(prepared, trained):
    latent, recon = encoder_latent(prepared, trained[0], batch_size=128)
    assert latent.shape == (prepared.n_obs, 6) and latent.dtype == np.float32
    assert recon.shape == prepared.shape and np.isfinite(recon).all()
    # log1p-normalised scale: each cell's expm1 sums to 1e4
    np.testing.assert_allclose(np.expm1(recon.astype(np.float64)).sum(axis=1), 1e4, rtol=1e-3)
    # batching does not change the result
    again, _ = encoder_latent(prepared, trained[0], batch_size=1000)
    np.testing.assert_allclose(latent, again, atol=1e-5)


def test_pca_latent_fitted_on_train(prepared):
    latent, recon = pca_latent(prepared, 6, seed=0)
    assert latent.shape == (prepared.n_obs, 6) and recon.shape == prepared.shape
    train = prepared.obs["split"].to_numpy() == "train"
    np.testing.assert_allclose(latent[train].mean(axis=0), 0, atol=1e-3)  # centred on training cells
    assert abs(latent[~train].mean(axis=0)).max() > 1e-3


def test_embed_adds_obsm_and_layer(prepared):
    latent, recon = pca_latent(prepared, 6, seed=0)
    out = embed(prepared, latent, recon, "pca", n_neighbors=10, seed=0)
    assert out.obsm["X_pca"].shape == (prepared.n_obs, 6)
    assert out.obsm["X_pca_pca"].shape == (prepared.n_obs, 6)
    assert out.obsm["X_pca_umap"].shape == (prepared.n_obs, 2)
    assert out.layers[RECONSTRUCTED].shape == prepared.shape
    assert out.uns["omicsgen"]["latent_key"] == "X_pca"
    assert "X_pca" not in prepared.obsm  # input untouched
    again = embed(prepared, latent, recon, "pca", n_neighbors=10, seed=0)
    np.testing.assert_array_equal(out.obsm["X_pca_umap"], again.obsm["X_pca_umap"])
