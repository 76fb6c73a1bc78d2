"""How a finished run's verdicts move with the evaluation's random halves: the same synthetic data, other seeds.

Usage: python benchmarks/evaluation_seeds.py --results results --dataset eur_1kg [--models ar,hmm]
       [--seeds 0,1,2,3,4] [--trees 100] [--threads 2]

The evaluation cuts the test split into a reference half and the ``real`` control's half, and
bootstraps every interval, from the run's seed. This re-runs
:func:`omicsgen.evaluate.evaluate_model` on a finished run's ``preprocessed.h5ad`` and
``synthetic.h5ad`` files with other evaluation seeds (training, synthesis and the split are
left as they are), for the ``real`` control (at the ``marginals`` sampler's sizes), the
``marginals`` sampler and each model, and prints per seed each one's AA_truth, AA_syn,
``ld_correlation`` and ``membership_inference_auroc`` and its paired verdict against
``marginals`` on ``pca_wasserstein`` and ``pairwise_distance_wasserstein``
(:func:`omicsgen.evaluate.paired.paired_verdict`), then per model how many seeds meet each
criterion. What the ``real`` control meets is what a perfect generator would meet at these sizes.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--models", default="ar,hmm")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import pandas as pd

    from omicsgen.evaluate import evaluate_model
    from omicsgen.evaluate.paired import paired_verdict
    from omicsgen.io import read_h5ad

    folder = args.results / args.dataset
    real = read_h5ad(folder / "preprocessed.h5ad")
    names = ["real", "marginals", *args.models.split(",")]
    # the real control takes its sizes from the marginals sampler's genomes
    synthetic = {name: read_h5ad(folder / name.replace("real", "marginals") / "synthetic.h5ad") for name in names}
    rows = []
    for seed in map(int, args.seeds.split(",")):
        scored = {}
        for name in names:
            replicates: dict = {}
            table, _ = evaluate_model(
                real,
                dataset=args.dataset,
                model=name,
                synthetic=synthetic[name],
                control="real" if name == "real" else None,
                seed=seed,
                detection_trees=args.trees,
                threads=args.threads,
                replicates=replicates,
            )
            scored[name] = (table.set_index("metric")["value"], replicates)
        base, base_replicates = scored["marginals"]
        for name in [n for n in names if n != "marginals"]:
            values, replicates = scored[name]
            row = {"seed": seed, "model": name}
            row.update({m: values[m] for m in ("aa_truth", "aa_syn", "ld_correlation", "membership_inference_auroc")})
            for metric in ("pca_wasserstein", "pairwise_distance_wasserstein"):
                (key, reps), (base_key, base_reps) = replicates[metric], base_replicates[metric]
                row[metric] = (
                    paired_verdict(metric, values[metric], base[metric], reps, base_reps)[3]
                    if key == base_key
                    else "unpaired"
                )
            rows.append(row)
    table = pd.DataFrame(rows)
    print(table.round(3).to_string(index=False))
    table["aa_in_0.4_0.6"] = table["aa_truth"].between(0.4, 0.6) & table["aa_syn"].between(0.4, 0.6)
    summary = table.groupby("model", sort=False).agg(
        seeds=("seed", "size"),
        aa_in_band=("aa_in_0.4_0.6", "sum"),
        pca_beats_marginals=("pca_wasserstein", lambda v: int((v == "better").sum())),
        pairwise_beats_marginals=("pairwise_distance_wasserstein", lambda v: int((v == "better").sum())),
        mean_ld_correlation=("ld_correlation", "mean"),
    )
    print(summary.round(3).to_string())


if __name__ == "__main__":
    main()
