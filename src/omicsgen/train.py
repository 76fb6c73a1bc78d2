"""Fitting models with Lightning: seeding, device choice, early stopping, checkpoints, history."""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import shutil
import warnings
from pathlib import Path

import anndata as ad
import lightning as L
import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from omicsgen import contract
from omicsgen.budget import AUTO, epoch_budget, gan_epochs, generator_step_budget
from omicsgen.contract import label_categories
from omicsgen.data import AnnDataModule
from omicsgen.io import write_text
from omicsgen.models.base import TrainingPlan
from omicsgen.provenance import sha256
from omicsgen.registry import training_plan

log = logging.getLogger(__name__)

RESUME_CHECKPOINTS = 20  # resumable checkpoints written in a run's epoch budget


def model_keys(family: str) -> tuple[str, ...]:
    """The config keys a family's training plan takes (its constructor's, less the data's)."""
    parameters = inspect.signature(training_plan(family)).parameters
    data_keys = ("n_input", "likelihood", "labels", "autoencoder", "haplotypes_per_row")
    return tuple(name for name in parameters if name not in data_keys)


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


class GeneratorStepBudget(Callback):
    """Stop a GAN's training after ``generator_steps`` generator steps (one per ``n_critic`` batches).

    The count is derived from the epoch and batch index, so it holds across a resume.
    """

    def __init__(self, generator_steps: int, n_critic: int):
        self.n_critic = n_critic
        self.batches = generator_steps * n_critic
        self.batches_seen = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.batches_seen = trainer.current_epoch * trainer.num_training_batches + batch_idx + 1
        if self.batches_seen >= self.batches:
            trainer.should_stop = True

    @property
    def generator_steps(self) -> int:
        """Generator steps taken so far."""
        return self.batches_seen // self.n_critic


class ClosestLDAfterBestLikelihood(Callback):
    """Keep, of the epochs from the best validation NLL on, the one of least ``val_ld_gap`` (``ar``, ``select: ld``).

    After each validation epoch: a new best ``val_loss`` starts the search again (the epochs
    before it fit held-out data worse), and an epoch whose ``val_ld_gap``
    (:meth:`omicsgen.models.ar.Autoregressive.ld_gap`) is the least since then is saved to
    ``path``. Early stopping on ``val_loss`` ends the run as it would otherwise, so the search
    spans at most ``patience`` epochs after the best one. The state is saved in checkpoints, so
    it holds across a resume.

    Parameters
    ----------
    path
        Where the kept epoch's checkpoint is written (``best_model_path``).
    """

    def __init__(self, path: str | Path):
        self.best_model_path = str(path)
        self.best_val_loss = float("inf")
        self.best_model_score: float | None = None  # the kept epoch's val_ld_gap
        self.kept_epoch: int | None = None

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        loss, gap = float(trainer.callback_metrics["val_loss"]), float(trainer.callback_metrics["val_ld_gap"])
        if loss < self.best_val_loss:
            self.best_val_loss, self.best_model_score = loss, None
        if self.best_model_score is None or gap < self.best_model_score:
            self.best_model_score, self.kept_epoch = gap, trainer.current_epoch
            trainer.save_checkpoint(self.best_model_path, weights_only=False)

    def state_dict(self) -> dict:
        return {"best_val_loss": self.best_val_loss, "score": self.best_model_score, "epoch": self.kept_epoch}

    def load_state_dict(self, state_dict: dict) -> None:
        self.best_val_loss = state_dict["best_val_loss"]
        self.best_model_score, self.kept_epoch = state_dict["score"], state_dict["epoch"]


def training_budget(family: str, n_train: int, params: dict) -> dict:
    """The budget a model of ``family`` gets on ``n_train`` training observations (:mod:`omicsgen.budget`).

    Returns
    -------
    dict
        ``rule`` (``"auto"`` or ``"config"``) and ``max_epochs``; AE and VAE: ``patience``;
        VAE: ``kl_warmup_epochs``, the configured warm-up capped at half the epoch budget so
        that the KL term reaches full weight; GAN: ``generator_steps``.
    """
    if "max_steps" in params:  # a budget in generator steps (the GAN)
        key, n_critic = params["max_steps"], params["n_critic"]
        steps = generator_step_budget(n_train, params["batch_size"], n_critic, key)
        epochs = gan_epochs(n_train, params["batch_size"], n_critic, steps)
        return {"rule": "auto" if key == AUTO else "config", "generator_steps": steps, "max_epochs": epochs}
    epochs = epoch_budget(n_train, params["max_epochs"])
    budget = {
        "rule": "auto" if params["max_epochs"] == AUTO else "config",
        "max_epochs": epochs,
        "patience": params["patience"],
    }
    if "kl_warmup_epochs" in params:
        budget["kl_warmup_epochs"] = min(params["kl_warmup_epochs"], max(1, epochs // 2))
    return budget


def train_model(
    adata: ad.AnnData,
    family: str,
    checkpoint: str | Path,
    history: str | Path,
    *,
    params: dict,
    seed: int = 0,
    threads: int = 1,
    gpus: int = 0,
    training: str | Path | None = None,
    autoencoder: str | Path | None = None,
    phaser: str | Path | None = None,
) -> TrainingPlan:
    """Fit a model of ``family`` on the training split (AE and VAE early-stopped on validation).

    A labelled dataset (``uns["omicsgen"]["label_key"]``) gives a conditional model: its
    decoder (generator and critic for the GAN) gets the one-hot label.

    Parameters
    ----------
    adata
        Model-ready AnnData (``obs["split"]``, ``uns["omicsgen"]["likelihood"]``), in memory or
        backed (``X`` read from the file in blocks, :class:`~omicsgen.data.AnnDataModule`).
    family
        A trained family of :data:`omicsgen.registry.MODELS` (``"ae"``, ``"vae"``, ``"gan"``).
    checkpoint
        Where the checkpoint is written (``.ckpt``): the lowest ``val_loss`` for AE and VAE,
        the last epoch for the GAN.
    history
        Where the per-epoch metrics CSV is written: ``epoch`` and the plan's logged terms
        (VAE: ``train_loss``, ``train_reconstruction``, ``train_kl``, ``kl_weight``,
        ``val_loss`` (negative ELBO, nats per cell), ``val_reconstruction``, ``val_kl``; AE:
        ``train_loss``, ``val_loss`` (negative log-likelihood, nats per cell); GAN:
        ``train_critic_loss``, ``train_wasserstein``, ``train_gradient_penalty``,
        ``train_generator_loss``, ``val_wasserstein``).
    params
        Model keys (:func:`model_keys`) plus ``batch_size`` and the budget
        (:func:`training_budget`): for AE and VAE ``max_epochs`` (integer or ``"auto"``) and
        ``patience`` (epochs without improvement of ``val_loss`` before stopping); for the
        GAN ``max_steps``, generator steps (integer or ``"auto"``).
    seed
        Passed to ``lightning.seed_everything``; training runs with ``deterministic=True``.
    threads
        CPU threads for torch.
    gpus
        GPUs granted to the job (see :func:`device_settings`).
    training
        Where a JSON summary of the run is written (optional): ``n_train``, the ``budget``,
        ``epochs_run``, ``stopped_by``, ``device``, ``threads``, ``streamed`` (batches read from
        disk), ``curves`` (the history columns the report draws, and their y label);
        ``best_val_loss`` (AE, VAE, ``hmm``, ``ar``) and, for ``ar`` with ``select: ld``, the
        ``kept`` epoch and its ``val_ld_gap``, or ``generator_steps_run`` (GAN); ``phased``
        (``method``, ``draws``, ``genomes``) for a model trained on haplotypes drawn from the
        ``phaser``.
    autoencoder
        The checkpoint of the trained AE whose code space a GAN with ``space: latent`` plays in
        (its weights are copied into the GAN's checkpoint, frozen).
    phaser
        The checkpoint of the ``hmm`` fitted to these genotypes, for ``phase: hmm`` in ``params``
        (the ``ar`` family; ``"none"`` when the key is absent) on unphased dosages: the model is
        then trained on haplotypes drawn from their posterior under it
        (:func:`omicsgen.genotypes.phasing.hmm_haplotypes`, ``phase_draws`` draws per training
        genome) and generates each genome as two haplotypes. Not used on phased data.

    Returns
    -------
    TrainingPlan
        The model restored from the written checkpoint, in eval mode.

    Raises
    ------
    KeyError
        Unknown family.
    ValueError
        ``space: latent`` without an ``autoencoder`` checkpoint, or one trained on other data;
        ``phase: hmm`` on dosages without a ``phaser`` checkpoint.

    Notes
    -----
    Lightning's checkpoints (the best whenever ``val_loss`` improves; the last, to resume
    from, every ``max_epochs // 20`` epochs) and its CSV log live in
    ``.<checkpoint stem>_training/`` beside ``checkpoint`` while training runs. A run that is
    killed leaves it behind, and the next call with the same data, params and seed resumes
    from ``last.ckpt`` (``Trainer.fit(ckpt_path=...)``), optimiser, early-stopping and
    checkpoint state included. The folder is removed when training ends.
    """
    checkpoint, history = Path(checkpoint), Path(history)
    training = Path(training) if training is not None else None
    L.seed_everything(seed, workers=True, verbose=False)
    torch.set_num_threads(max(1, threads))
    devices = device_settings(gpus)
    log.info(
        "training on %s (devices=%s, strategy=%s)", devices["accelerator"], devices["devices"], devices["strategy"]
    )

    adata, phased = _phased(adata, params, phaser, seed)
    data = AnnDataModule(adata, batch_size=params["batch_size"], seed=seed)
    budget = training_budget(family, len(data.train_set), params)
    log.info("budget for %d training observations: %s", len(data.train_set), budget)
    latent_of = _latent_space_model(params, autoencoder)
    model = training_plan(family)(
        n_input=adata.n_vars,
        likelihood=contract.info(adata)["likelihood"],
        labels=label_categories(adata),
        **{key: budget.get(key, params[key]) for key in model_keys(family)},
        **({"autoencoder": dict(latent_of.hparams)} if latent_of is not None else {}),
        **({"haplotypes_per_row": 2} if phased else {}),
    )
    if latent_of is not None:
        model.autoencoder.load_state_dict(latent_of.state_dict())
    workdir = checkpoint.parent / f".{checkpoint.stem}_training"
    depends_on = {**params, "autoencoder": sha256(autoencoder)} if latent_of is not None else params
    depends_on = {**depends_on, "phaser": sha256(phaser)} if phased else depends_on
    resume_from = _resumable_checkpoint(workdir, _fingerprint(adata, depends_on, seed))
    if resume_from is None:
        model.prepare(data.train_batches())
    early_stopped = model.monitor is not None  # the GAN has no validation likelihood to stop on
    # last.ckpt, to resume from, about RESUME_CHECKPOINTS times a run (not every epoch: a GAN's
    # checkpoint holds two networks and two optimisers); the best one whenever val_loss improves
    callbacks = [
        ModelCheckpoint(
            dirpath=workdir / "checkpoints",
            filename="last",
            monitor=None,
            save_top_k=1,
            enable_version_counter=False,
            every_n_epochs=max(1, budget["max_epochs"] // RESUME_CHECKPOINTS),
        )
    ]
    by_ld = early_stopped and model.hparams.get("select") == "ld"
    if early_stopped:
        best = (
            ClosestLDAfterBestLikelihood(workdir / "checkpoints" / "best.ckpt")
            if by_ld
            else ModelCheckpoint(
                dirpath=workdir / "checkpoints",
                filename="best",
                monitor=model.monitor,
                mode="min",
                save_top_k=1,
                enable_version_counter=False,
            )
        )
        stopper = EarlyStopping(monitor=model.monitor, mode="min", patience=params["patience"])
        callbacks += [best, stopper]
    else:
        steps = GeneratorStepBudget(budget["generator_steps"], params["n_critic"])
        callbacks.append(steps)
    trainer = L.Trainer(
        max_epochs=budget["max_epochs"],
        callbacks=callbacks,
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
    with warnings.catch_warnings():
        if latent_of is not None:  # the frozen AE is in eval mode on purpose (no dropout in its codes)
            warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")
        trainer.fit(model, datamodule=data, ckpt_path=resume_from)
    parts = sorted(workdir.glob("metrics_before_resume_*.csv"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    epochs = epoch_history([*parts, metrics_csv])
    write_text(epochs.to_csv(index=False), history)
    run = {
        "family": family,
        "n_train": len(data.train_set),
        "budget": budget,
        "epochs_run": int(epochs["epoch"].max()) + 1,
        "device": devices["accelerator"],
        "threads": threads,
        "streamed": data.streamed,
        "curves": {"columns": list(model.curves[0]), "ylabel": model.curves[1]},
    }
    if phased:
        run["phased"] = phased
    if early_stopped:
        run["stopped_by"] = "early stopping" if stopper.stopped_epoch > 0 else "epoch budget"
        if by_ld:  # the kept epoch: the closest LD from the best likelihood on
            run["best_val_loss"] = best.best_val_loss
            run["kept"] = {"epoch": best.kept_epoch, "val_ld_gap": best.best_model_score}
        else:
            run["best_val_loss"] = float(best.best_model_score)
    else:
        run["stopped_by"] = "generator step budget"
        run["generator_steps_run"] = steps.generator_steps
    if early_stopped:
        final = Path(best.best_model_path)
    else:
        final = workdir / "final.ckpt"
        trainer.save_checkpoint(final)
    fitted = _finish(final, family, AnnDataModule(adata, batch_size=params["batch_size"], seed=seed), seed)
    if fitted:
        run["after_training"] = fitted
    log.info("training ended: %s", run)
    if training is not None:
        write_text(json.dumps(run, indent=2) + "\n", training)
    shutil.move(final, checkpoint)
    shutil.rmtree(workdir)
    return load_model(checkpoint, family)


def _phased(adata: ad.AnnData, params: dict, phaser: str | Path | None, seed: int) -> tuple[ad.AnnData, dict]:
    """The data a ``phase: hmm`` model trains on: haplotypes drawn from the ``phaser`` HMM's posterior
    where ``adata`` holds unphased dosages, and what was done (``method``, ``draws``,
    ``genomes``: training genomes phased); ``adata`` and ``{}`` otherwise.

    Raises
    ------
    ValueError
        ``phase`` other than ``"none"`` or ``"hmm"``, or dosages and no ``phaser``.
    """
    phase = params.get("phase", "none")
    if phase not in ("none", "hmm"):
        raise ValueError(f"phase must be 'none' or 'hmm', got {phase!r}")
    if phase == "none" or contract.encoding(adata) != "dosage":
        return adata, {}
    if phaser is None:
        raise ValueError(
            "phase: hmm on unphased dosages needs the checkpoint of the HMM fitted to them (the 'hmm' model)"
        )
    from omicsgen.genotypes.phasing import hmm_haplotypes

    draws = params.get("phase_draws", 4)  # the config schema's default
    haplotypes = hmm_haplotypes(adata, load_model(phaser, "hmm"), draws, seed)
    genomes = int((contract.split_of(adata) == "train").sum())
    log.info("trains on haplotypes drawn from the HMM's posterior: %d draws of %d training genomes", draws, genomes)
    return haplotypes, {"method": "hmm", "draws": draws, "genomes": genomes}


def _latent_space_model(params: dict, autoencoder: str | Path | None) -> TrainingPlan | None:
    """The trained AE a plan with ``space: latent`` plays in, loaded from ``autoencoder``; None otherwise.

    Raises
    ------
    ValueError
        ``space: latent`` and no checkpoint given.
    """
    if params.get("space") != "latent":
        return None
    if autoencoder is None:
        raise ValueError("space: latent needs the checkpoint of the trained autoencoder (the 'ae' model)")
    return load_model(autoencoder, "ae")


def _finish(checkpoint: Path, family: str, data: AnnDataModule, seed: int) -> dict:
    """Restore the trained model, run its :meth:`~omicsgen.models.base.TrainingPlan.finish` (seeded) and,
    where it fitted something, write its state back into ``checkpoint``."""
    model = load_model(checkpoint, family)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fitted = model.finish(data)
    if fitted:
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        state["state_dict"] = model.state_dict()
        torch.save(state, checkpoint)
    return fitted


def _fingerprint(adata: ad.AnnData, params: dict, seed: int, rows_per_read: int = 8192) -> str:
    """Hash of what a training run depends on: data values, cell order and split, params, seed.

    The matrix is hashed ``rows_per_read`` rows at a time, the same way in memory and backed
    (a run killed in one mode resumes in the other).
    """
    digest = hashlib.sha256(json.dumps({"params": params, "seed": seed}, sort_keys=True, default=str).encode())
    for start in range(0, adata.n_obs, rows_per_read):
        block = adata.X[start : start + rows_per_read]
        parts = (block.data, block.indices, np.diff(block.indptr)) if sp.issparse(block) else (block,)
        for part in parts:
            digest.update(np.ascontiguousarray(part))
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


def load_model(checkpoint: str | Path, family: str) -> TrainingPlan:
    """Load a trained model of ``family`` from a Lightning checkpoint onto the CPU, in eval mode."""
    model = training_plan(family).load_from_checkpoint(str(checkpoint), map_location="cpu")
    model.eval()
    return model
