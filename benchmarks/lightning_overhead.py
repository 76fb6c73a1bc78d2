"""VAE training throughput: Lightning Trainer vs a plain torch loop, same model, data and batches.

Usage: python benchmarks/lightning_overhead.py [--epochs N] [--repeats R] [--threads T]
       [--device cpu|cuda] [--cells N]

Both sides train omicsgen's VAE (default architecture, NB likelihood) on the pbmc68k training
split (488 cells x 765 genes), or with ``--cells N`` on N cells drawn from pbmc68k's cell-type
profiles (:func:`omicsgen.datasets.pbmc_like_counts`), for the same number of epochs with
the same batches, Adam and KL warm-up; Lightning runs with its production settings (logging
each epoch, no validation, checkpointing or progress bar, so both do the same work). On the
CPU both sides use omicsgen's DataLoader; with ``--device cuda`` the matrix is dense, the
Lightning side uses :class:`omicsgen.data.AnnDataModule` (data resident on the GPU when it
fits) and the plain side slices a tensor already on the GPU. Each side runs ``repeats``
times, alternating; the median wall time gives samples/s. Prints one TSV row per side and
the ratio (plain samples/s over Lightning samples/s: 1.0 = no overhead).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
import warnings

import lightning as L
import torch

from omicsgen.data import AnnDataModule
from omicsgen.datasets import pbmc68k_counts, pbmc_like_counts
from omicsgen.models import VAE
from omicsgen.preprocess import prepare_scrna


def lightning_run(data: AnnDataModule, n_input: int, epochs: int, seed: int, device: str) -> float:
    L.seed_everything(seed, verbose=False)
    model = VAE(n_input=n_input, lr_plateau_patience=0)  # no validation here, so no plateau schedule
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator=device,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    start = time.perf_counter()
    trainer.fit(model, datamodule=data)
    _sync(device)
    return time.perf_counter() - start


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _device_batches(data: AnnDataModule, device: str, seed: int):
    """The training batches: omicsgen's DataLoader on the CPU; slices of a tensor on the GPU otherwise."""
    if device == "cpu":
        return lambda: data.train_dataloader()
    x, y = data.train_set[list(range(len(data.train_set)))]  # the training split, float32
    x, y = x.to(device), y.to(device)
    generator = torch.Generator(device="cpu").manual_seed(seed)

    def batches():
        order = torch.randperm(len(x), generator=generator).to(device)
        for start in range(0, len(x), data.batch_size):
            idx = order[start : start + data.batch_size]
            yield x[idx], y[idx]

    return batches


def plain_run(data: AnnDataModule, n_input: int, epochs: int, seed: int, device: str) -> float:
    L.seed_everything(seed, verbose=False)
    model = VAE(n_input=n_input, lr_plateau_patience=0).to(device)  # no validation here, so no plateau schedule
    optimizer = model.configure_optimizers()
    model.train()
    batches = _device_batches(data, device, seed)
    start = time.perf_counter()
    for epoch in range(epochs):
        weight = min(1.0, (epoch + 1) / model.hparams.kl_warmup_epochs)
        for batch in batches():
            reconstruction, kl = model.elbo_terms(batch)
            loss = (reconstruction + weight * kl).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    _sync(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--cells", type=int, help="generated cells instead of pbmc68k's 700")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning").setLevel(logging.ERROR)
    torch.set_num_threads(args.threads)

    if args.cells:
        adata = prepare_scrna(pbmc_like_counts(args.cells), "generated", label_key="cell_type")
    else:
        adata = prepare_scrna(pbmc68k_counts(), "pbmc68k", layer="counts", label_key="bulk_labels")
    if args.device == "cuda":
        adata.X = adata.X.toarray()  # dense, so that it can be resident on the GPU
    data = AnnDataModule(adata, batch_size=128, seed=0)
    n_samples = len(data.train_set) * args.epochs
    times = {"lightning": [], "plain_torch": []}
    for repeat in range(args.repeats):
        times["lightning"].append(lightning_run(data, adata.n_vars, args.epochs, repeat, args.device))
        times["plain_torch"].append(plain_run(data, adata.n_vars, args.epochs, repeat, args.device))
    rate = {side: n_samples / statistics.median(t) for side, t in times.items()}
    print("side\tmedian_s\tsamples_per_s")
    for side, t in times.items():
        print(f"{side}\t{statistics.median(t):.2f}\t{rate[side]:.0f}")
    print(f"ratio plain/lightning\t{rate['plain_torch'] / rate['lightning']:.3f}")


if __name__ == "__main__":
    main()
