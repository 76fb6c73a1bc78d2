"""Lightning data module over a model-ready AnnData (the data contract)."""

from __future__ import annotations

import anndata as ad
import lightning as L
import numpy as np
import scipy.sparse as sp
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from omicsgen.contract import label_categories, label_codes


class _Rows(Dataset):
    """Some rows of a matrix and their label codes, fetched a batch at a time (``__getitem__`` takes a list of indices).

    The matrix is not copied: a CSR matrix is sliced and densified a batch at a time, a dense
    one is held in its own dtype (int8 genotypes stay int8) and each batch is cast to float32.
    """

    def __init__(self, matrix, rows: np.ndarray, codes: np.ndarray):
        self.sparse = sp.issparse(matrix)
        self.matrix = matrix.tocsr() if self.sparse else torch.from_numpy(np.ascontiguousarray(matrix))
        self.rows = np.asarray(rows, dtype=np.int64)
        self.codes = torch.as_tensor(codes[self.rows])

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def nbytes(self) -> int:
        """Bytes of these rows of a dense matrix in its dtype (0 for sparse: they stay on the CPU)."""
        return 0 if self.sparse else self.matrix.element_size() * len(self.rows) * self.matrix.shape[1]

    def to(self, device: torch.device) -> None:
        """Hold these rows of a dense matrix, and their codes, on ``device`` (batches are then sliced there)."""
        if not self.sparse and self.matrix.device != device:
            self.matrix = self.matrix[torch.from_numpy(self.rows)].to(device)
            self.rows = np.arange(len(self.rows))
            self.codes = self.codes.to(device)

    def __getitem__(self, idx) -> tuple[torch.Tensor, torch.Tensor]:
        rows = self.rows[idx]
        if self.sparse:
            x = torch.from_numpy(self.matrix[rows].toarray().astype(np.float32, copy=False))
        else:
            x = self.matrix[torch.from_numpy(rows).to(self.matrix.device)].float()
        return x, self.codes[idx]


class AnnDataModule(L.LightningDataModule):
    """Train and validation batches ``(x, y)`` of ``X`` and label codes from the ``split`` column of an AnnData.

    ``x`` is float32 ``(batch, n_vars)``, ``y`` int64 ``(batch,)`` codes of the labels in
    :func:`label_categories` order (zeros when unlabelled). Dense matrices are held as one
    tensor in their own dtype, not copied (on the GPU when training there and it fits,
    :meth:`setup`), each batch cast to float32; sparse (CSR) ones stay sparse on the CPU and are
    densified a batch at a time (pinned for the transfer on a GPU). Shuffling uses a
    ``torch.Generator`` seeded with ``seed``.

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
        self.train_set = _Rows(adata.X, np.flatnonzero(split == "train"), codes)
        self.val_set = _Rows(adata.X, np.flatnonzero(split == "val"), codes)
        if len(self.train_set) == 0 or len(self.val_set) == 0:
            raise ValueError(
                f"need training and validation cells; got {len(self.train_set)} and {len(self.val_set)}; "
                "raise val_fraction or use more cells"
            )
        self.batch_size = batch_size
        self.seed = seed
        self.pin_memory = False

    def setup(self, stage: str) -> None:
        """On a CUDA device: dense data resident on the GPU when it takes at most half its free memory,
        else batches through pinned host memory."""
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        if device.type != "cuda":
            return
        free, _ = torch.cuda.mem_get_info(device)
        needed = self.train_set.nbytes + self.val_set.nbytes
        if 0 < needed <= free // 2:
            self.train_set.to(device)
            self.val_set.to(device)
        else:
            self.pin_memory = True

    def _loader(self, dataset: _Rows, shuffle: bool) -> DataLoader:
        if shuffle:
            sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(self.seed))
        else:
            sampler = SequentialSampler(dataset)
        batches = BatchSampler(sampler, batch_size=self.batch_size, drop_last=False)
        return DataLoader(dataset, sampler=batches, batch_size=None, pin_memory=self.pin_memory)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)
