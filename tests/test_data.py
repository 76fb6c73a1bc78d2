"""Training batches in memory and streamed from a backed .h5ad: same rows, bounded reads, seeded order."""

from __future__ import annotations

import json

import anndata as ad
import numpy as np
import pytest
import torch

from omicsgen.data import (
    AnnDataModule,
    BlockShuffleSampler,
    _BackedRows,
    _nbytes,
    _Rows,
    matrix_nbytes,
    should_stream,
)
from omicsgen.io import write_h5ad
from omicsgen.preprocess.genotypes import prepare_genotypes
from tests.conftest import FAST_VAE, REPO


@pytest.fixture(scope="module")
def genotypes():
    """eur_1kg as model-ready int8 dosages (dense)."""
    return prepare_genotypes(REPO / "resources" / "eur_1kg" / "EUR_test.vcf.gz", seed=0)


def _backed(adata, path):
    write_h5ad(adata, path)
    return ad.read_h5ad(path, backed="r")


def test_block_shuffle_visits_every_row_once_in_few_blocks():
    sampler = BlockShuffleSampler(1000, batch_size=64, seed=3, block_rows=16, blocks_per_fetch=4)
    epoch0 = list(sampler)
    assert len(epoch0) == len(sampler) == 16 and [len(b) for b in epoch0[:-1]] == [64] * 15
    assert sorted(np.concatenate(epoch0)) == list(range(1000))
    # a batch draws from the 4 blocks of its fetch (at most 8 where it straddles two fetches)
    assert max(len(np.unique(np.asarray(b) // 16)) for b in epoch0) <= 8
    assert list(sampler) == epoch0  # the order depends on (seed, epoch) only
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    assert sorted(np.concatenate(epoch1)) == list(range(1000)) and epoch1 != epoch0
    assert list(BlockShuffleSampler(1000, 64, seed=4, block_rows=16, blocks_per_fetch=4)) != epoch0


@pytest.mark.parametrize("kind", ["counts", "genotypes"])
@pytest.mark.parametrize("split", ["train", "val"])  # val rows lie far apart: read row by row, not as a range
def test_backed_rows_read_the_same_values_as_memory(kind, split, prepared, genotypes, tmp_path):
    adata = prepared if kind == "counts" else genotypes
    backed = _backed(adata, tmp_path / "x.h5ad")
    rows = np.flatnonzero(adata.obs["split"].to_numpy() == split)
    codes = np.arange(adata.n_obs) % 5
    one_block = matrix_nbytes(adata.X[rows[:16]])  # about the bytes of one 16-row block
    memory = _Rows(adata.X, rows, codes)
    disk = _BackedRows(backed.X, rows, codes, block_rows=16, cache_bytes=3 * one_block)
    assert matrix_nbytes(backed.X) == matrix_nbytes(adata.X) > 0
    sampler = BlockShuffleSampler(len(rows), batch_size=20, seed=0, block_rows=16, blocks_per_fetch=2)
    seen = []
    for batch in sampler:
        x_disk, y_disk = disk[batch]
        x_memory, y_memory = memory[batch]
        assert x_disk.dtype == torch.float32 and x_disk.shape == (len(batch), adata.n_vars)
        torch.testing.assert_close(x_disk, x_memory)
        torch.testing.assert_close(y_disk, y_memory)
        seen += batch
        # memory bounded by the cache: what it holds is counted, and stays under the bound plus one block
        assert disk._cached_bytes == sum(_nbytes(values) for values in disk._cache.values())
        assert disk._cached_bytes <= 3 * one_block + 2 * one_block
    assert sorted(seen) == list(range(len(rows)))
    backed.file.close()


def test_sparse_batches_are_densified_after_transfer(prepared):
    data = AnnDataModule(prepared, batch_size=32, seed=0)
    data.train_set.sparse_batches = True
    x, y = data.train_set[list(range(32))]
    assert x.layout == torch.sparse_csr
    dense, y_after = data.on_after_batch_transfer((x, y), 0)
    expected = prepared.X[data.train_set.rows[:32]].toarray()
    np.testing.assert_array_equal(dense.numpy(), expected)
    assert dense.layout == torch.strided and y_after is y


def test_streamed_module_gives_every_training_row_each_epoch(prepared, tmp_path):
    backed = _backed(prepared, tmp_path / "x.h5ad")
    data = AnnDataModule(backed, batch_size=64, seed=0)
    assert data.streamed
    loader = data.train_dataloader()
    assert isinstance(loader.sampler, BlockShuffleSampler)
    total = torch.cat([x for x, _ in loader]).sum(dim=0)
    expected = prepared.X[data.train_set.rows].sum(axis=0).A1
    np.testing.assert_allclose(total.numpy(), expected, rtol=1e-5)
    statistics = torch.cat([x for x, _ in data.train_batches(100)]).sum(dim=0)
    np.testing.assert_allclose(statistics.numpy(), expected, rtol=1e-5)
    val = torch.cat([x for x, _ in data.val_dataloader()])
    np.testing.assert_array_equal(val.numpy(), prepared.X[data.val_set.rows].toarray())
    backed.file.close()


def test_auto_streams_only_a_matrix_over_half_the_job_memory(prepared, monkeypatch):
    nbytes = matrix_nbytes(prepared.X)
    assert nbytes == prepared.X.data.nbytes + prepared.X.indices.nbytes + prepared.X.indptr.nbytes
    monkeypatch.setattr("omicsgen.data.STREAM_ABOVE", nbytes / 2**20 / 2)  # half of what 1 MB holds
    assert should_stream(prepared.X, "auto", mem_mb=1) and not should_stream(prepared.X, "auto", mem_mb=3)
    monkeypatch.undo()
    assert not should_stream(prepared.X, "auto", mem_mb=4 * nbytes // 2**20 + 1)
    assert should_stream(prepared.X, True) and not should_stream(prepared.X, False, mem_mb=1)


def test_streamed_training_step_matches_the_run_in_memory(prepared, tmp_path):
    from omicsgen.steps import train
    from omicsgen.train import _fingerprint

    path = tmp_path / "prepared.h5ad"
    write_h5ad(prepared, path)
    backed = ad.read_h5ad(path, backed="r")
    assert _fingerprint(backed, FAST_VAE, 0) == _fingerprint(prepared, FAST_VAE, 0)  # resumable in either mode
    backed.file.close()
    runs = {}
    for stream in (True, False):
        out = tmp_path / str(stream)
        train(
            str(path),
            out / "model.ckpt",
            out / "history.csv",
            out / "training.json",
            family="gan",
            model={
                "n_noise": 8,
                "n_hidden": 32,
                "n_layers": 1,
                "lr": 2e-4,
                "n_critic": 2,
                "gp_weight": 10,
                "batch_size": 64,
                "max_steps": 6,
                "space": "data",
            },
            seed=0,
            threads=1,
            gpus=0,
            stream=stream,
        )
        runs[stream] = json.loads((out / "training.json").read_text())
        assert runs[stream]["streamed"] is stream
        assert runs[stream]["generator_steps_run"] == 6
    assert runs[True]["n_train"] == runs[False]["n_train"] == int((prepared.obs["split"] == "train").sum())
    assert runs[True]["epochs_run"] == runs[False]["epochs_run"]


def test_gan_starts_at_the_same_mean_sample_streamed_or_not(genotypes, tmp_path):
    from omicsgen.models import GAN

    backed = _backed(genotypes, tmp_path / "g.h5ad")
    biases = []
    for adata in (genotypes, backed):
        torch.manual_seed(0)
        gan = GAN(genotypes.n_vars, "binomial", [], n_noise=4, n_hidden=8, n_layers=1, space="data")
        gan.prepare(AnnDataModule(adata, batch_size=64).train_batches(100))
        biases.append(gan.generator.out.bias.detach().clone())
    torch.testing.assert_close(biases[0], biases[1])
    train = genotypes.obs["split"].to_numpy() == "train"
    frequency = genotypes.X[train].mean(axis=0) / 2
    expected = torch.logit(torch.as_tensor(frequency, dtype=torch.float32).clamp(1e-3, 1 - 1e-3))
    torch.testing.assert_close(biases[0], expected, rtol=1e-4, atol=1e-4)
    backed.file.close()
