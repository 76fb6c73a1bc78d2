"""Fitting models with Lightning: seeding, device choice, early stopping, checkpoints, history."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import anndata as ad
import lightning as L
import numpy as np
import pandas as pd
import scipy.sparse as sp
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


def epoch_history(metrics_csvs: list[Path]) -> pd.DataFrame:
    """Collapse Lightning's ``CSVLogger`` files, oldest first, to one row per epoch.

    Train and validation terms are logged on separate rows; an epoch logged twice (run again
    after a resume) keeps its latest values.
    """
    raw = pd.concat([pd.read_csv(path) for path in metrics_csvs], ignore_index=True)
    history = raw.drop(columns=["step"], errors="ignore").groupby("epoch", as_index=False).last()
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

    Notes
    -----
    Lightning's checkpoints (best and last, every epoch) and its CSV log live in
    ``.<checkpoint stem>_training/`` beside ``checkpoint`` while training runs. A run that is
    killed leaves it behind, and the next call with the same data, params and seed resumes
    from ``last.ckpt`` (``Trainer.fit(ckpt_path=...)``), optimiser, early-stopping and
    checkpoint state included. The folder is removed when training ends.
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
    workdir = checkpoint.parent / f".{checkpoint.stem}_training"
    resume_from = _resumable_checkpoint(workdir, _fingerprint(adata, params, seed))
    saver = ModelCheckpoint(
        dirpath=workdir / "checkpoints", filename="best", monitor="val_loss", mode="min", save_top_k=1,
        save_last=True, enable_version_counter=False,
    )
    trainer = L.Trainer(
        max_epochs=params["max_epochs"],
        callbacks=[EarlyStopping(monitor="val_loss", mode="min", patience=params["patience"]), saver],
        logger=CSVLogger(workdir, name="csv", version=0, flush_logs_every_n_steps=1),
        deterministic=True,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
        **devices,
    )
    metrics_csv = workdir / "csv" / "version_0" / "metrics.csv"
    if resume_from is not None and metrics_csv.exists():  # Lightning's CSVLogger would overwrite it
        metrics_csv.rename(workdir / f"metrics_before_resume_{len(list(workdir.glob('metrics_before_resume_*')))}.csv")
    trainer.fit(model, datamodule=data, ckpt_path=resume_from)
    log.info("stopped after %d epochs; best val_loss %.4f", trainer.current_epoch, float(saver.best_model_score))
    parts = sorted(workdir.glob("metrics_before_resume_*.csv"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    write_text(epoch_history([*parts, metrics_csv]).to_csv(index=False), history)
    shutil.move(saver.best_model_path, checkpoint)
    shutil.rmtree(workdir)
    return load_vae(checkpoint)


def _fingerprint(adata: ad.AnnData, params: dict, seed: int) -> str:
    """Hash of what a training run depends on: data values, cell order and split, params, seed."""
    digest = hashlib.sha256(json.dumps({"params": params, "seed": seed}, sort_keys=True, default=str).encode())
    X = adata.X
    for part in (X.data, X.indices, X.indptr) if sp.issparse(X) else (np.ascontiguousarray(X),):
        digest.update(np.ascontiguousarray(part).tobytes())
    digest.update("\t".join(adata.obs_names).encode())
    digest.update("\t".join(adata.obs["split"].astype(str)).encode())
    return digest.hexdigest()


def _resumable_checkpoint(workdir: Path, fingerprint: str) -> Path | None:
    """The last checkpoint of an interrupted run with the same fingerprint, else None.

    A working folder left by a run on other data or parameters is removed; the folder is
    (re)created with the fingerprint so that a run killed from now on can be resumed.
    """
    stamp, last = workdir / "fingerprint", workdir / "checkpoints" / "last.ckpt"
    if workdir.exists():
        if stamp.exists() and stamp.read_text() == fingerprint and last.exists():
            epoch = torch.load(last, map_location="cpu", weights_only=False)["epoch"]
            log.info("resuming an interrupted run from %s (after epoch %d)", last, epoch)
            return last
        log.info("removing %s: left by a run that cannot be resumed", workdir)
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    stamp.write_text(fingerprint)
    return None


def load_vae(checkpoint: str | Path) -> VAE:
    """Load a trained VAE from a Lightning checkpoint onto the CPU, in eval mode."""
    model = VAE.load_from_checkpoint(str(checkpoint), map_location="cpu")
    model.eval()
    return model
