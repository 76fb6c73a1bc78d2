"""The genotype families along the chromosome (``ar``, ``hmm``) at chromosome scale: training time and
memory per 10,000 sites.

Usage: python benchmarks/genotype_scale.py [--family ar|hmm] [--samples 2000] [--sites 10000 50000 100000]
                                           [--epochs 2] [--threads 2] [--workdir DIR] [--encoding dosage|haplotype]

A cohort of ``samples`` diploid genomes is simulated with the workflow's own simulator
(stdpopsim ``HomSap/OutOfAfrica_3G09`` via msprime, three labelled populations; long enough to
hold the largest ``sites`` after preprocessing) and preprocessed as the workflow does
(``prepare_genotypes``: biallelic SNPs, MAF >= 0.01, read as ``encoding``: dosages, or the
simulated phase as haplotypes, two rows a genome). For each ``sites`` count the first that many
sites are kept, and in a child process the ``family`` with its default config section
(``config/config.yaml``; for ``ar``: ``context`` auto, i.e. 16 sites on dosages and 64 on
haplotypes, batch 16; for ``hmm``: 16 clusters, E-step batches of 512) trains for ``epochs``
epochs (EM iterations for ``hmm``) on the CPU (``train_model``, the workflow's trainer: int8
matrix in memory, float32 batches only), then draws 100 genomes per label. Printed per run: seconds per epoch,
seconds to draw the genomes, peak resident memory above the memory after imports, and both
per 10,000 sites.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import yaml
import anndata as ad
from omicsgen.io import read_h5ad
from omicsgen.synthesize import synthesize
from omicsgen.train import train_model

def rss_kb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

path, workdir, family = sys.argv[1], Path(sys.argv[5]), sys.argv[6]
n_sites, epochs, threads = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
adata = read_h5ad(path)[:, :n_sites].copy()
params = yaml.safe_load(Path("config/config.yaml").read_text())[family]
params.update(max_epochs=epochs, patience=epochs + 1)
before = rss_kb()
start = time.perf_counter()
checkpoint, history = workdir / f"{family}.ckpt", workdir / "history.csv"
model = train_model(adata, family, checkpoint, history, params=params, seed=0, threads=threads)
trained = time.perf_counter()
synthetic = synthesize(adata, model, family, 100, seed=0)
drawn = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"shape": list(adata.shape), "n_train": int((adata.obs["split"] == "train").sum()),
                  "epoch_s": (trained - start) / epochs, "draw_s": drawn - trained, "n_drawn": synthetic.n_obs,
                  "peak_mb": (peak - before) / 1024, "matrix_mb": adata.X.nbytes / 2**20}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=["ar", "hmm"], default="ar")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--sites", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--encoding", choices=["dosage", "haplotype"], default="dosage")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="genotype_scale_"))
    workdir.mkdir(parents=True, exist_ok=True)
    prepared = workdir / f"cohort_{args.samples}_{args.encoding}.h5ad"
    if not prepared.exists():
        from omicsgen.io import write_h5ad
        from omicsgen.preprocess import prepare_genotypes
        from omicsgen.simulate import simulate_ooa_panel

        vcf, sheet = workdir / "cohort.vcf.gz", workdir / "cohort.tsv"
        if not vcf.exists():  # one simulated cohort (phased) serves both encodings
            # about 4,000 common SNPs per Mb in 2,000 simulated genomes of the three populations
            length = max(1_000_000, int(max(args.sites) / 3500 * 1e6))
            simulate_ooa_panel(vcf, sheet, n_per_population=args.samples // 3, length_bp=length, seed=1)
        adata = prepare_genotypes(vcf, sample_sheet=sheet, label_key="population", encoding=args.encoding, seed=0)
        write_h5ad(adata, prepared)
    for n_sites in args.sites:
        run = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                str(prepared),
                str(n_sites),
                str(args.epochs),
                str(args.threads),
                str(workdir),
                args.family,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(run.stdout.strip().splitlines()[-1])
        per10k = 10_000 / result["shape"][1]
        print(
            f"{args.family}: {result['shape'][0]} samples x {result['shape'][1]} sites ({result['n_train']} training): "
            f"{result['epoch_s']:.1f} s/epoch ({result['epoch_s'] * per10k:.2f} per 10k sites), "
            f"{result['n_drawn']} genomes drawn in {result['draw_s']:.1f} s, peak {result['peak_mb']:.0f} MB above "
            f"imports ({result['peak_mb'] * per10k:.0f} MB per 10k sites; int8 matrix {result['matrix_mb']:.0f} MB)",
            flush=True,
        )


if __name__ == "__main__":
    main()
