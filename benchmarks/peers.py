"""A peer row: scVI (scvi-tools) trained on the workflow's own split and scored by its own evaluation.

Usage: python benchmarks/peers.py --real results/pbmc68k/preprocessed.h5ad --out DIR [--seed 0]
       [--n-per-label 100] [--threads 2]

Needs scvi-tools (``pip install scvi-tools``; not a dependency of omicsgen: run it from an
environment that has both). ``--real`` is a model-ready AnnData the workflow wrote (counts,
highly variable genes, ``obs["split"]``). scVI (Lopez et al. 2018; ``scvi.model.SCVI``, its
defaults: negative binomial, 10 latent dimensions, scVI's epoch rule) is trained on the
training split only. Its latent is the posterior mean of every cell; its synthetic cells are,
per label, posterior-predictive draws of uniformly drawn training cells of that label (scVI
has no label-conditional prior), ``--n-per-label`` per label as the workflow's
``synthesize.n_per_label``. Both go through :func:`omicsgen.evaluate.evaluate_model` with the
workflow's defaults and ``--seed``, so the rows sit beside the workflow's
``results/<dataset>/<model>/metrics.tsv`` of the same seed. Writes ``DIR/scvi_metrics.tsv``
and prints it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--real", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-per-label", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import scvi
    import torch

    from omicsgen import contract
    from omicsgen.contract import obs_labels
    from omicsgen.evaluate import evaluate_model
    from omicsgen.io import read_h5ad
    from omicsgen.latent import embed
    from omicsgen.preprocess.scale import metric_scale
    from omicsgen.synthesize import synthetic_anndata, training_groups

    torch.set_num_threads(args.threads)
    scvi.settings.seed = args.seed
    real = read_h5ad(args.real)
    train = real[contract.split_of(real) == "train"].copy()
    scvi.model.SCVI.setup_anndata(train)
    model = scvi.model.SCVI(train)
    model.train(accelerator="cpu")

    # latent of every cell, and its reconstruction error on the evaluation's log1p-normalised scale
    everyone = real.copy()
    scvi.model.SCVI.setup_anndata(everyone)
    latent = model.get_latent_representation(everyone)
    proportions = model.get_normalized_expression(everyone, library_size=1e4, return_numpy=True)
    expression = metric_scale(everyone.X, contract.encoding(real))
    mse = ((expression - np.log1p(proportions)) ** 2).mean(axis=1)
    embedded = embed(real, latent.astype(np.float32), mse.astype(np.float32), "scvi", seed=args.seed)

    rng = np.random.default_rng(args.seed)
    blocks, labels = [], []
    for label, idx in training_groups(real).items():
        # positions of the label's training cells within `train`
        picks = rng.choice(np.searchsorted(np.flatnonzero(contract.split_of(real) == "train"), idx), args.n_per_label)
        draws = model.posterior_predictive_sample(train, indices=picks, n_samples=1)
        blocks.append(np.asarray(draws.todense()).reshape(len(picks), -1))
        labels += [label] * len(picks)
    synthetic = synthetic_anndata(
        real, np.concatenate(blocks), labels, "scvi: posterior predictive of uniformly drawn training cells per label"
    )
    assert (obs_labels(synthetic) == np.asarray(labels)).all()
    metrics, _ = evaluate_model(
        real, dataset=real.uns["omicsgen"].get("dataset", args.real.parent.name), model="scvi",
        latent=embedded, synthetic=synthetic, seed=args.seed, threads=args.threads,
    )  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    metrics.to_csv(args.out / "scvi_metrics.tsv", sep="\t", index=False)
    print(metrics.to_string(index=False))


if __name__ == "__main__":
    main()
