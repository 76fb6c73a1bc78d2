"""Fitting models with Lightning: seeding, device choice, early stopping, checkpoints, history."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import anndata as ad
import lightning as L
import pandas as pd
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from omicsgen.data import AnnDataModule
from omicsgen.io import write_text
from omicsgen.models import VAE

log = logging.getLogger(__name__)

MODEL_KEYS = (
    "n_latent", "n_hidden", "n_layers", "dropout", "lr", "weight_decay", "kl_warmup_epochs", "lr_plateau_patience",
)


def device_settings(gpus: int) -> dict:
    """Lightning ``Trainer`` device arguments for the GPUs a job was granted.

    Parameters
    ----------
    gpus
        GPUs granted to the job (Snakemake's ``gpu`` resource). 0: CPU; 1: one CUDA device;
        more: CUDA with that many devices and DDP.

    Returns
    -------
    dict
        ``accelerator``, ``devices`` and ``strategy`` for ``lightning.Trainer``.

    Raises
    ------
    RuntimeError
        ``gpus >= 1`` but torch sees fewer CUDA devices (for example a CPU build of torch).
    """
    if gpus <= 0:
        return {"accelerator": "cpu", "devices": 1, "strategy": "auto"}
    available = torch.cuda.device_count()
    if available < gpus:
        raise RuntimeError(
            f"the job was granted gpu={gpus} but torch sees {available} CUDA devices "
            f"(torch {torch.__version__}); install a CUDA build of torch or set gpu: 0"
        )
    return {"accelerator": "cuda", "devices": gpus, "strategy": "ddp" if gpus > 1 else "auto"}


def epoch_history(metrics_csv: Path) -> pd.DataFrame:
    """Collapse Lightning's ``CSVLogger`` rows (train and validation logged apart) to one row per epoch."""
    raw = pd.read_csv(metrics_csv)
    history = raw.drop(columns=["step"], errors="ignore").groupby("epoch", as_index=False).first()
    return history.sort_values("epoch").reset_index(drop=True)


def train_vae(
    adata: ad.AnnData,
    checkpoint: str | Path,
    history: str | Path,
    *,
    params: dict,
    seed: int = 0,
    threads: int = 1,
    gpus: int = 0,
) -> VAE:
    """Fit a :class:`~omicsgen.models.VAE` on the training split, early-stopped on validation.

    Parameters
    ----------
    adata
        Model-ready AnnData (``obs["split"]``, ``uns["omicsgen"]["likelihood"]``).
    checkpoint
        Where the best checkpoint (lowest ``val_loss``) is written (``.ckpt``).
    history
        Where the per-epoch metrics CSV is written: ``epoch``, ``train_loss``,
        ``train_reconstruction``, ``train_kl``, ``kl_weight``, ``val_loss`` (negative ELBO,
        nats per cell), ``val_reconstruction``, ``val_kl``.
    params
        Model keys (:data:`MODEL_KEYS`) plus ``batch_size``, ``max_epochs`` and ``patience``
        (epochs without improvement of ``val_loss`` before stopping).
    seed
        Passed to ``lightning.seed_everything``; training runs with ``deterministic=True``.
    threads
        CPU threads for torch.
    gpus
        GPUs granted to the job (see :func:`device_settings`).

    Returns
    -------
    VAE
        The model restored from the best checkpoint, in eval mode.
    """
    checkpoint, history = Path(checkpoint), Path(history)
    L.seed_everything(seed, workers=True, verbose=False)
    torch.set_num_threads(max(1, threads))
    devices = device_settings(gpus)
    log.info("training on %s (devices=%s, strategy=%s)", devices["accelerator"], devices["devices"], devices["strategy"])

    data = AnnDataModule(adata, batch_size=params["batch_size"], seed=seed)
    model = VAE(
        n_input=adata.n_vars,
        likelihood=adata.uns["omicsgen"]["likelihood"],
        **{key: params[key] for key in MODEL_KEYS},
    )
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=checkpoint.parent, prefix=".lightning_") as workdir:
        saver = ModelCheckpoint(
            dirpath=Path(workdir) / "checkpoints", filename="best", monitor="val_loss", mode="min", save_top_k=1,
            enable_version_counter=False,
        )
        trainer = L.Trainer(
            max_epochs=params["max_epochs"],
            callbacks=[EarlyStopping(monitor="val_loss", mode="min", patience=params["patience"]), saver],
            logger=CSVLogger(workdir, name="csv", version=0),
            deterministic=True,
            enable_progress_bar=False,
            enable_model_summary=False,
            log_every_n_steps=1,
            **devices,
        )
        trainer.fit(model, datamodule=data)
        log.info("stopped after %d epochs; best val_loss %.4f", trainer.current_epoch, float(saver.best_model_score))
        write_text(epoch_history(Path(workdir) / "csv" / "version_0" / "metrics.csv").to_csv(index=False), history)
        shutil.move(saver.best_model_path, checkpoint)
    return load_vae(checkpoint)


def load_vae(checkpoint: str | Path) -> VAE:
    """Load a trained VAE from a Lightning checkpoint onto the CPU, in eval mode."""
    model = VAE.load_from_checkpoint(str(checkpoint), map_location="cpu")
    model.eval()
    return model
