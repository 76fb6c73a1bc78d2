"""Genotype panels of another species and other sizes, to run the default config on data it was not chosen on.

Usage: python benchmarks/other_species.py --out DIR
       then: snakemake --cores 2 --configfile DIR/config.yaml

Writes two *Drosophila melanogaster* panels simulated with stdpopsim and msprime (no
download: the contigs' mean recombination rates, no genetic map) and a config holding only
them, every other key at its default:

- ``dromel_afr``: 191 diploid genomes of one population (``African3Epoch_1S16``, Sheehan & Song
  2016), 200 kb of chromosome 2L, unphased (``0/1``), unlabelled;
- ``dromel_ooa``: 2,000 genomes, 1,000 African and 1,000 European (``OutOfAfrica_2L06``, Li &
  Stephan 2006), 30 kb of chromosome 3R, phased (``0|1``), labelled by population from a
  sample sheet.

They span the range of cohorts the workflow is meant for (191 to 2,000 samples, about 1,400 and 9,000 sites
after the default ``min_maf: 0.01``), phased and unphased, labelled and not.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

PANELS = {
    # name: (demographic model, contig, length bp, samples per population, phased, msprime seed)
    "dromel_afr": ("African3Epoch_1S16", "2L", 200_000, {"AFR": 191}, False, 7),
    "dromel_ooa": ("OutOfAfrica_2L06", "3R", 30_000, {"AFR": 1000, "EUR": 1000}, True, 11),
}
LEFT_BP = 1_000_000


def simulate(name: str, out: Path) -> dict:
    """Simulate one panel of :data:`PANELS` into ``out``; returns its ``datasets`` config entry."""
    import pysam
    import stdpopsim

    model_id, contig, length, samples, phased, seed = PANELS[name]
    species = stdpopsim.get_species("DroMel")
    model = species.get_demographic_model(model_id)
    chrom = species.get_contig(contig, left=LEFT_BP, right=LEFT_BP + length, mutation_rate=model.mutation_rate)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # stdpopsim's notes on citations and rates
        ts = stdpopsim.get_engine("msprime").simulate(model, chrom, samples, seed=seed)
    names, populations = [], []
    for individual in ts.individuals():
        population = ts.population(ts.node(individual.nodes[0]).population).metadata["name"]
        names.append(f"DroMel-{population}-{len(names):04d}")
        populations.append(population)
    text = out / f"{name}.vcf"
    with open(text, "w") as handle:
        ts.write_vcf(handle, individual_names=names, contig_id=contig)
    if not phased:
        lines = text.read_text().splitlines(keepends=True)
        text.write_text("".join(line if line.startswith("#") else line.replace("|", "/") for line in lines))
    vcf = out / f"{name}.vcf.gz"
    pysam.tabix_compress(str(text), str(vcf), force=True)
    pysam.tabix_index(str(vcf), preset="vcf", force=True)
    text.unlink()
    entry = {"modality": "vcf", "path": str(vcf)}
    if len(samples) > 1:
        sheet = out / f"{name}.samples.tsv"
        sheet.write_text("sample\tpopulation\n" + "".join(f"{s}\t{p}\n" for s, p in zip(names, populations)))
        entry.update(sample_sheet=str(sheet), label="population")
    print(f"{vcf}: {ts.num_sites} sites, {len(names)} samples, {'phased' if phased else 'unphased'}")
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import yaml

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    datasets = {name: simulate(name, out) for name in PANELS}
    (out / "config.yaml").write_text(yaml.safe_dump({"datasets": datasets}, sort_keys=False))
    print(f"config: {out / 'config.yaml'}")


if __name__ == "__main__":
    main()
