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
    """Rows of a matrix and their label codes, fetched a batch at a time (``__getitem__`` takes a list of indices)."""

    def __init__(self, matrix, codes: np.ndarray):
        self.matrix = matrix if sp.issparse(matrix) else torch.as_tensor(np.asarray(matrix, dtype=np.float32))
        self.codes = torch.as_tensor(codes)

    def __len__(self) -> int:
        return self.matrix.shape[0]

    @property
    def nbytes(self) -> int:
        """Bytes of the rows as the float32 tensor a dense matrix is held as (0 for sparse: they stay on the CPU)."""
        return 0 if sp.issparse(self.matrix) else self.matrix.element_size() * self.matrix.nelement()

    def to(self, device: torch.device) -> None:
        """Hold a dense matrix and the codes on ``device`` (batches are then sliced there, no transfer)."""
        if not sp.issparse(self.matrix):
            self.matrix, self.codes = self.matrix.to(device), self.codes.to(device)

    def __getitem__(self, idx) -> tuple[torch.Tensor, torch.Tensor]:
        rows = self.matrix[idx]
        if sp.issparse(rows):
            rows = torch.from_numpy(rows.toarray().astype(np.float32, copy=False))
        return rows, self.codes[idx]


class AnnDataModule(L.LightningDataModule):
    """Train and validation batches ``(x, y)`` of ``X`` and label codes from the ``split`` column of an AnnData.

    ``x`` is float32 ``(batch, n_vars)``, ``y`` int64 ``(batch,)`` codes of the labels in
    :func:`label_categories` order (zeros when unlabelled). Dense matrices are held as one
    float32 tensor (on the GPU when training there and it fits, :meth:`setup`); sparse (CSR)
    ones stay sparse on the CPU and are densified a batch at a time (pinned for the transfer
    on a GPU). Shuffling uses a ``torch.Generator`` seeded with ``seed``.

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
