"""Generated single-cell sets of growing size, to read the single-cell criteria where the intervals are narrow.

Usage: python benchmarks/generated_cells.py --out DIR [--cells 700 2800 11200] [--seed 0]
       then: snakemake --cores 2 --configfile DIR/config.yaml -- \\
             results/gen{N}/{ae,vae,gan,marginals,real}/metrics.tsv

pbmc68k has 700 cells, so its held-out reference half is 70 cells and most intervals there
overlap the real control's. This writes ``.h5ad`` files of ``--cells`` cells each, counts drawn
from pbmc68k's cell-type profiles (:func:`omicsgen.datasets.pbmc_like_counts`: negative binomial
around each type's mean, log-normal library sizes, pbmc68k's type proportions). They are
GENERATED, not real cells: no cell states within a type, one dispersion for every gene. They
show how the evaluation's intervals narrow with size and how the families compare where the
data are plentiful, not how they do on real tissue. Also writes ``DIR/config.yaml`` with one
dataset ``gen<N>`` per size (labels ``cell_type``), every other key at its default.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cells", type=int, nargs="+", default=[700, 2800, 11200])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import yaml

    from omicsgen.datasets import pbmc_like_counts

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    datasets = {}
    for n in args.cells:
        path = out / f"gen{n}.h5ad"
        pbmc_like_counts(n, seed=args.seed).write_h5ad(path)
        datasets[f"gen{n}"] = {"modality": "h5ad", "path": str(path), "label": "cell_type"}
        print(f"{path}: {n} generated cells x 765 genes")
    (out / "config.yaml").write_text(yaml.safe_dump({"datasets": datasets}, sort_keys=False))


if __name__ == "__main__":
    main()
