"""Lightning data module over a model-ready AnnData (the data contract)."""

from __future__ import annotations

import anndata as ad
import lightning as L
import numpy as np
import scipy.sparse as sp
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler


def label_categories(adata: ad.AnnData) -> list[str]:
    """The label categories a conditional model is given, in code order; empty when unlabelled."""
    key = adata.uns["omicsgen"]["label_key"]
    return [str(c) for c in adata.obs[key].cat.categories] if key else []


def label_codes(adata: ad.AnnData, categories: list[str]) -> np.ndarray:
    """int64 ``(n_obs,)`` codes of each observation's label in ``categories`` (zeros when there are none).

    Raises
    ------
    ValueError
        A label of ``adata`` is not among ``categories`` (the model was trained on other labels).
    """
    if not categories:
        return np.zeros(adata.n_obs, dtype=np.int64)
    labels = adata.obs[adata.uns["omicsgen"]["label_key"]].astype(str).to_numpy()
    unknown = sorted(set(labels) - set(categories))
    if unknown:
        raise ValueError(f"labels {unknown} are not among the model's labels {categories}; retrain on these data")
    code = {label: i for i, label in enumerate(categories)}
    return np.array([code[label] for label in labels], dtype=np.int64)


class _Rows(Dataset):
    """Rows of a matrix and their label codes, fetched a batch at a time (``__getitem__`` takes a list of indices)."""

    def __init__(self, matrix, codes: np.ndarray):
        self.matrix = matrix if sp.issparse(matrix) else torch.as_tensor(np.asarray(matrix, dtype=np.float32))
        self.codes = torch.as_tensor(codes)

    def __len__(self) -> int:
        return self.matrix.shape[0]

    def __getitem__(self, idx) -> tuple[torch.Tensor, torch.Tensor]:
        rows = self.matrix[idx]
        if sp.issparse(rows):
            rows = torch.from_numpy(rows.toarray().astype(np.float32, copy=False))
        return rows, self.codes[idx]


class AnnDataModule(L.LightningDataModule):
    """Train and validation batches ``(x, y)`` of ``X`` and label codes from the ``split`` column of an AnnData.

    ``x`` is float32 ``(batch, n_vars)``, ``y`` int64 ``(batch,)`` codes of the labels in
    :func:`label_categories` order (zeros when unlabelled). Dense matrices are held as one float32 tensor; sparse (CSR) ones stay sparse and are
    densified a batch at a time. Shuffling uses a ``torch.Generator`` seeded with ``seed``.

    Parameters
    ----------
    adata
        Model-ready AnnData with ``obs["split"]`` in ``{"train", "val", "test"}``.
    batch_size
        Cells per batch.
    seed
        Seed of the training shuffle.

    Raises
    ------
    ValueError
        No training or no validation cells.
    """

    def __init__(self, adata: ad.AnnData, batch_size: int = 128, seed: int = 0):
        super().__init__()
        split = adata.obs["split"].astype(str).to_numpy()
        codes = label_codes(adata, label_categories(adata))
        self.train_set = _Rows(adata.X[split == "train"], codes[split == "train"])
        self.val_set = _Rows(adata.X[split == "val"], codes[split == "val"])
        if len(self.train_set) == 0 or len(self.val_set) == 0:
            raise ValueError(
                f"need training and validation cells; got {len(self.train_set)} and {len(self.val_set)}; "
                "raise val_fraction or use more cells"
            )
        self.batch_size = batch_size
        self.seed = seed

    def _loader(self, dataset: _Rows, shuffle: bool) -> DataLoader:
        if shuffle:
            sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(self.seed))
        else:
            sampler = SequentialSampler(dataset)
        batches = BatchSampler(sampler, batch_size=self.batch_size, drop_last=False)
        return DataLoader(dataset, sampler=batches, batch_size=None)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)
