"""The values behind the report's LD-decay plot: mean LD r2 by distance, real (held-out), its band, each model.

Usage: python benchmarks/ld_decay.py --results results --dataset eur_1kg [--models ar vae ...]
       [--seed 0] [--ld-window-sites 50] [--ld-window-kb 1000]

Reads ``RESULTS/DATASET/preprocessed.h5ad`` (its test split) and every
``RESULTS/DATASET/<model>/synthetic.h5ad`` there (or ``--models``), and prints the table of
:func:`omicsgen.evaluate.popgen.ld_decay_comparison` as markdown: the curves the report plots,
on the same site pairs (``--ld-window-*`` as the config's ``evaluate`` section) and seed.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--models", nargs="*")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ld-window-sites", type=int, default=50)
    parser.add_argument("--ld-window-kb", type=float, default=1000)
    args = parser.parse_args()

    from omicsgen.evaluate.popgen import ld_decay_comparison, ld_pairs
    from omicsgen.io import read_h5ad
    from omicsgen.preprocess import metric_scale

    root = args.results / args.dataset
    real = read_h5ad(root / "preprocessed.h5ad")
    encoding = real.uns["omicsgen"]["encoding"]
    test = real.obs["split"].to_numpy() == "test"
    models = args.models or sorted(p.parent.name for p in root.glob("*/synthetic.h5ad"))
    synthetic = {m: metric_scale(read_h5ad(root / m / "synthetic.h5ad").X, encoding) for m in models}
    pos = real.var["pos"].to_numpy()
    i, j = ld_pairs(real.var["chrom"].to_numpy(), pos, args.ld_window_sites, int(args.ld_window_kb * 1000))
    table = ld_decay_comparison(metric_scale(real.X, encoding)[test], synthetic, pos, i, j, args.seed)
    print(f"{args.dataset}: mean LD r2 by distance, {table.attrs['genomes_per_curve']} genomes per curve")
    print(table.to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
