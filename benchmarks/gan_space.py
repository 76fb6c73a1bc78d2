"""The GAN in the AE's code space against the GAN on the data: train, synthesize and score one GAN.

Usage: python benchmarks/gan_space.py --real results/D/preprocessed.h5ad --autoencoder results/D/ae/model.ckpt
       --out DIR [--space latent|data] [--steps auto|N] [--seed 0] [--threads 2]

``--real`` is a model-ready AnnData the workflow wrote and ``--autoencoder`` that dataset's AE
checkpoint (used with ``--space latent``). The GAN takes the default config's ``gan`` section
with ``space`` and ``max_steps`` set from the arguments; it is trained with
:func:`omicsgen.train.train_model`, 100 cells (samples) per label are drawn with
:func:`omicsgen.synthesize.synthesize`, and :func:`omicsgen.evaluate.evaluate_model` scores them
(200 trees, 50 bootstrap replicates), as the workflow's train, synthesize and evaluate rules
do. Prints the training time and budget and every metric with its 95% interval.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--real", type=Path, required=True)
    parser.add_argument("--autoencoder", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--space", choices=["latent", "data"], default="latent")
    parser.add_argument("--steps", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import anndata as ad
    import yaml

    from omicsgen.evaluate import evaluate_model
    from omicsgen.synthesize import synthesize
    from omicsgen.train import train_model

    params = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["gan"]
    params.update(space=args.space, max_steps=args.steps if args.steps == "auto" else int(args.steps))
    real = ad.read_h5ad(args.real)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    model = train_model(
        real,
        "gan",
        args.out / "model.ckpt",
        args.out / "history.csv",
        params=params,
        seed=args.seed,
        threads=args.threads,
        training=args.out / "training.json",
        autoencoder=args.autoencoder,
    )
    seconds = time.perf_counter() - start
    synthetic = synthesize(real, model, "gan", 100, args.seed)
    metrics, _ = evaluate_model(
        real,
        dataset=args.real.parent.name,
        model="gan",
        synthetic=synthetic,
        detection_trees=200,
        n_bootstrap=50,
        threads=args.threads,
        seed=args.seed,
    )
    budget = json.loads((args.out / "training.json").read_text())["budget"]
    print(f"space={args.space} seed={args.seed} train_s={seconds:.0f} budget={budget}")
    for row in metrics.itertuples():
        print(f"  {row.metric}: {row.value:.3f} [{row.low:.3f},{row.high:.3f}]")


if __name__ == "__main__":
    main()
