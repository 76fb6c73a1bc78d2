"""Lightning data module over a model-ready AnnData (the data contract), in memory or streamed from disk."""

from __future__ import annotations

import math
import os
import warnings
from collections import OrderedDict
from collections.abc import Iterator

import anndata as ad
import lightning as L
import numpy as np
import scipy.sparse as sp
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, Sampler, SequentialSampler

from omicsgen.contract import label_categories, label_codes

BLOCK_ROWS = 256  # rows of one split read from disk at a time when streaming
BLOCKS_PER_FETCH = 64  # blocks whose rows are shuffled together (16,384 rows)
CACHE_BYTES = 512 * 2**20  # blocks of rows kept in memory while streaming, at most (about; at least one block)
STREAM_ABOVE = 0.5  # stream when the matrix would take more than this fraction of the job's memory


def matrix_nbytes(X) -> int:
    """Bytes the matrix takes in memory: ``data``, ``indices`` and ``indptr`` of a sparse matrix
    (in memory or backed), all values of a dense one; computed from shapes and dtypes, nothing is read."""
    if sp.issparse(X):
        parts = (X.data, X.indices, X.indptr)
    elif hasattr(X, "group"):  # a backed sparse dataset: its HDF5 group holds the three arrays
        parts = tuple(X.group[name] for name in ("data", "indices", "indptr"))
    else:  # a numpy array or an HDF5 dataset
        return int(np.prod(X.shape)) * np.dtype(X.dtype).itemsize
    return sum(int(part.size) * np.dtype(part.dtype).itemsize for part in parts)


def available_memory_bytes(mem_mb: int | None = None) -> int:
    """Memory a job has: ``mem_mb`` MiB when given (the job's ``mem_mb`` resource, which the config
    and the input size fix, so the choice is the same on every machine), else the machine's
    available memory (``MemAvailable`` of ``/proc/meminfo``, else free pages)."""
    if mem_mb is not None:
        return int(mem_mb) * 2**20
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def should_stream(X, stream: bool | str, mem_mb: int | None = None) -> bool:
    """Whether training reads its batches from disk: ``stream`` ``True``/``False``, or ``"auto"``:
    when the matrix (:func:`matrix_nbytes`) would take more than ``STREAM_ABOVE`` of the
    memory the job has (:func:`available_memory_bytes`)."""
    if stream == "auto":
        return matrix_nbytes(X) > STREAM_ABOVE * available_memory_bytes(mem_mb)
    return bool(stream)


def _nbytes(values) -> int:
    """Bytes held by rows read from a matrix (CSR or dense)."""
    if sp.issparse(values):
        return values.data.nbytes + values.indices.nbytes + values.indptr.nbytes
    return values.nbytes


def _batch(x, codes: torch.Tensor, sparse_batches: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` of rows read from a matrix: float32 dense, or a torch sparse CSR tensor when
    ``sparse_batches`` (densified on the device, :meth:`AnnDataModule.on_after_batch_transfer`)."""
    if sp.issparse(x):
        x = x.tocsr()
        if sparse_batches:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
                return torch.sparse_csr_tensor(
                    torch.from_numpy(x.indptr.astype(np.int64)),
                    torch.from_numpy(x.indices.astype(np.int64)),
                    torch.from_numpy(x.data.astype(np.float32, copy=False)),
                    size=x.shape,
                    check_invariants=False,
                ), codes
        return torch.from_numpy(x.toarray().astype(np.float32, copy=False)), codes
    return torch.from_numpy(np.asarray(x)).float(), codes


class _Rows(Dataset):
    """Some rows of an in-memory matrix and their label codes, fetched a batch at a time
    (``__getitem__`` takes a list of positions among these rows).

    The matrix is not copied: a CSR matrix is sliced a batch at a time, a dense one is held in
    its own dtype (int8 genotypes stay int8) and each batch is cast to float32.
    """

    def __init__(self, matrix, rows: np.ndarray, codes: np.ndarray):
        self.sparse = sp.issparse(matrix)
        self.matrix = matrix.tocsr() if self.sparse else torch.from_numpy(np.ascontiguousarray(matrix))
        self.rows = np.asarray(rows, dtype=np.int64)
        self.codes = torch.as_tensor(codes[self.rows])
        self.sparse_batches = False

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
            return _batch(self.matrix[rows], self.codes[idx], self.sparse_batches)
        return self.matrix[torch.from_numpy(rows).to(self.matrix.device)].float(), self.codes[idx]


class _BackedRows(Dataset):
    """Some rows of an on-disk matrix (the ``X`` of a backed AnnData: an HDF5 sparse or dense
    dataset) and their label codes, read ``block_rows`` rows at a time.

    Position ``p`` among these rows lies in block ``p // block_rows``; a batch reads the blocks
    it touches and keeps the most recent ones, at most two fetch groups (128 blocks) and at most
    ``cache_bytes``, so that a :class:`BlockShuffleSampler` epoch reads each block about once (a
    fetch group of 64 blocks of 256 rows fits in 512 MB up to about 30,000 float32 or 120,000
    int8 columns; beyond, blocks are read again). A block is one contiguous read where its rows lie close together
    (the covering range at most twice its rows; rows of other splits in it are dropped), else a
    read of just its rows. Memory is bounded by the cache and one block, whatever the file's size.
    """

    def __init__(
        self,
        matrix,
        rows: np.ndarray,
        codes: np.ndarray,
        block_rows: int = BLOCK_ROWS,
        cache_bytes: int = CACHE_BYTES,
    ):
        self.matrix = matrix
        self.rows = np.asarray(rows, dtype=np.int64)
        self.codes = torch.as_tensor(codes[self.rows])
        self.block_rows, self.cache_bytes = block_rows, cache_bytes
        self.sparse_batches = False
        self._cache: OrderedDict[int, object] = OrderedDict()
        self._cached_bytes = 0

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def nbytes(self) -> int:
        """0: the rows stay on disk."""
        return 0

    def to(self, device: torch.device) -> None:
        """Nothing to move: batches are read from disk."""

    def _block(self, block: int):
        if block in self._cache:
            self._cache.move_to_end(block)
            return self._cache[block]
        rows = self.rows[block * self.block_rows : (block + 1) * self.block_rows]
        if rows[-1] - rows[0] + 1 <= 2 * len(rows):  # one contiguous read, other splits' rows dropped
            values = self.matrix[int(rows[0]) : int(rows[-1]) + 1][rows - rows[0]]
        else:  # the split's rows lie far apart in this range (validation rows): read only them
            values = self.matrix[rows]
        self._cache[block] = values
        self._cached_bytes += _nbytes(values)
        # two fetch groups are all an epoch's order needs; fewer when they would pass cache_bytes
        while len(self._cache) > 1 and (
            self._cached_bytes > self.cache_bytes or len(self._cache) > 2 * BLOCKS_PER_FETCH
        ):
            self._cached_bytes -= _nbytes(self._cache.popitem(last=False)[1])
        return values

    def __getitem__(self, idx) -> tuple[torch.Tensor, torch.Tensor]:
        idx = np.asarray(idx, dtype=np.int64)
        blocks, where = np.unique(idx // self.block_rows, return_inverse=True)
        parts = [self._block(int(b))[idx[where == i] - b * self.block_rows] for i, b in enumerate(blocks)]
        stacked = sp.vstack(parts, format="csr") if sp.issparse(parts[0]) else np.concatenate(parts)
        order = np.argsort(np.argsort(where, kind="stable"), kind="stable")  # back to the batch's order
        return _batch(stacked[order], self.codes[idx], self.sparse_batches)


class BlockShuffleSampler(Sampler[list[int]]):
    """Batches of positions ``0 .. n_rows - 1`` in block-shuffled order, for reading from disk.

    Each epoch shuffles blocks of ``block_rows`` consecutive positions, takes them
    ``blocks_per_fetch`` at a time, shuffles the positions within each group and cuts the
    sequence into batches (the last one smaller): every position once per epoch, rows read
    as contiguous blocks. This is the block shuffling with batch fetching of scDataset
    (D'Ascenzo and Cultrera di Montesano 2025) and of scverse's annbatch. The order of epoch
    ``e`` depends only on ``(seed, e)``; Lightning calls :meth:`set_epoch`, so a resumed run
    continues the same sequence.
    """

    def __init__(
        self,
        n_rows: int,
        batch_size: int,
        seed: int,
        block_rows: int = BLOCK_ROWS,
        blocks_per_fetch: int = BLOCKS_PER_FETCH,
    ):
        self.n_rows, self.batch_size, self.seed = n_rows, batch_size, seed
        self.block_rows, self.blocks_per_fetch = block_rows, blocks_per_fetch
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration epoch ``epoch``'s order (Lightning calls it before every epoch)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(self.n_rows / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        blocks = rng.permutation(math.ceil(self.n_rows / self.block_rows))
        groups = []
        for start in range(0, len(blocks), self.blocks_per_fetch):
            positions = np.concatenate(
                [
                    np.arange(b * self.block_rows, min((b + 1) * self.block_rows, self.n_rows))
                    for b in blocks[start : start + self.blocks_per_fetch]
                ]
            )
            groups.append(rng.permutation(positions))
        order = np.concatenate(groups) if groups else np.zeros(0, dtype=np.int64)
        for start in range(0, self.n_rows, self.batch_size):
            yield order[start : start + self.batch_size].tolist()


def _batches(rows, size: int, max_rows: int | None, seed: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    positions = np.arange(len(rows))
    if max_rows is not None and max_rows < len(rows):
        positions = np.sort(np.random.default_rng(seed).choice(len(rows), max_rows, replace=False))
    sparse_batches, rows.sparse_batches = rows.sparse_batches, False
    try:
        for start in range(0, len(positions), size):
            yield rows[positions[start : start + size].tolist()]
    finally:
        rows.sparse_batches = sparse_batches


class AnnDataModule(L.LightningDataModule):
    """Train and validation batches ``(x, y)`` of ``X`` and label codes from the ``split`` column of an AnnData.

    ``x`` is float32 ``(batch, n_vars)``, ``y`` int64 ``(batch,)`` codes of the labels in
    :func:`label_categories` order (zeros when unlabelled).

    In memory (``adata`` loaded): dense matrices are held as one tensor in their own dtype,
    not copied (on the GPU when training there and it fits, :meth:`setup`), each batch cast
    to float32; sparse (CSR) ones stay sparse on the CPU, sliced a batch at a time. Batches
    are drawn in random order from a ``torch.Generator`` seeded with ``seed``.

    Streamed (``adata`` backed, ``anndata.read_h5ad(path, backed="r")``): rows are read from
    the file in blocks (:class:`_BackedRows`) in block-shuffled order
    (:class:`BlockShuffleSampler`), so memory stays bounded whatever the size of the file.

    On a CUDA device sparse batches travel as sparse tensors and are densified there
    (:meth:`on_after_batch_transfer`).

    Parameters
    ----------
    adata
        Model-ready AnnData with ``obs["split"]`` in ``{"train", "val", "test"}``, in memory or backed.
    batch_size
        Cells per batch.
    seed
        Seed of the training order.

    Raises
    ------
    ValueError
        No training or no validation cells.
    """

    def __init__(self, adata: ad.AnnData, batch_size: int = 128, seed: int = 0):
        super().__init__()
        split = adata.obs["split"].astype(str).to_numpy()
        codes = label_codes(adata, label_categories(adata))
        self.streamed = adata.isbacked
        rows = _BackedRows if self.streamed else _Rows
        self.train_set = rows(adata.X, np.flatnonzero(split == "train"), codes)
        self.val_set = rows(adata.X, np.flatnonzero(split == "val"), codes)
        if len(self.train_set) == 0 or len(self.val_set) == 0:
            raise ValueError(
                f"need training and validation cells; got {len(self.train_set)} and {len(self.val_set)}; "
                "raise val_fraction or use more cells"
            )
        self.batch_size = batch_size
        self.seed = seed
        self.pin_memory = False

    def setup(self, stage: str) -> None:
        """On a CUDA device: dense in-memory data resident on the GPU when it takes at most half its
        free memory, else batches through pinned host memory; sparse batches densified on the GPU."""
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        if device.type != "cuda":
            return
        for rows in (self.train_set, self.val_set):
            rows.sparse_batches = True  # only sparse matrices make sparse batches
        free, _ = torch.cuda.mem_get_info(device)
        needed = self.train_set.nbytes + self.val_set.nbytes
        if 0 < needed <= free // 2:
            self.train_set.to(device)
            self.val_set.to(device)
        elif needed > 0:
            self.pin_memory = True

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """Densify a sparse batch where it now lies (the GPU): float32 ``(batch, n_vars)``."""
        x, y = batch
        return (x.to_dense() if x.layout == torch.sparse_csr else x), y

    def train_batches(
        self, size: int = 4096, max_rows: int | None = None, seed: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The training rows in file order, ``size`` at a time, as dense float32 ``(x, y)`` where the rows
        are held (the CPU before :meth:`setup`; for statistics over the training data).

        ``max_rows``: at most this many rows, a uniform random subset drawn with ``seed`` (kept
        in file order), so that a statistic's cost stays bounded on large data; None: all.
        """
        return _batches(self.train_set, size, max_rows, seed)

    def val_batches(self, size: int = 4096) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The validation rows in file order, as :meth:`train_batches`."""
        return _batches(self.val_set, size, None, 0)

    def _loader(self, dataset: Dataset, shuffle: bool) -> DataLoader:
        if shuffle and self.streamed:
            batches = BlockShuffleSampler(len(dataset), self.batch_size, self.seed)
        else:
            sampler = (
                RandomSampler(dataset, generator=torch.Generator().manual_seed(self.seed))
                if shuffle
                else SequentialSampler(dataset)
            )
            batches = BatchSampler(sampler, batch_size=self.batch_size, drop_last=False)
        return DataLoader(dataset, sampler=batches, batch_size=None, pin_memory=self.pin_memory)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)
