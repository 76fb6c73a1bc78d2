"""A simulated, labelled genotype panel (no download): stdpopsim + msprime, written as VCF.

The panel exists so that population structure can be shown and tested; every sample ID,
file and report line calls it simulated.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pandas as pd

from omicsgen.io import write_text

POPULATIONS = ("YRI", "CEU", "CHB")


def simulate_ooa_panel(
    vcf: str | os.PathLike,
    sample_sheet: str | os.PathLike,
    *,
    n_per_population: int = 60,
    contig: str = "chr22",
    left_bp: int = 20_000_000,
    length_bp: int = 1_000_000,
    seed: int = 0,
) -> None:
    """Simulate diploid genomes of YRI, CEU and CHB under the three-population Out-of-Africa model.

    stdpopsim's ``HomSap/OutOfAfrica_3G09`` (Gutenkunst et al. 2009) on a slice of a human
    contig with its mean recombination rate (no genetic map, hence no download) and the
    model's mutation rate, simulated with msprime (Baumdicker et al. 2022). Phased genotypes
    are written by tskit.

    Parameters
    ----------
    vcf
        Output ``.vcf.gz`` (BGZF, tabix-indexed, phased GT, contig named as in stdpopsim
        without ``chr``).
    sample_sheet
        Output TSV with columns ``sample`` and ``population``.
    n_per_population
        Diploid individuals per population.
    contig, left_bp, length_bp
        The slice: stdpopsim contig name, start and length (bp).
    seed
        msprime's random seed (ancestry and mutations).
    """
    import pysam
    import stdpopsim

    species = stdpopsim.get_species("HomSap")
    model = species.get_demographic_model("OutOfAfrica_3G09")
    chrom = species.get_contig(contig, left=left_bp, right=left_bp + length_bp, mutation_rate=model.mutation_rate)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # stdpopsim's notes on citations and rates
        ts = stdpopsim.get_engine("msprime").simulate(
            model,
            chrom,
            {pop: n_per_population for pop in POPULATIONS},
            seed=seed + 1,  # msprime needs seed > 0
        )
    names, populations = [], []
    counters = {pop: 0 for pop in POPULATIONS}
    for individual in ts.individuals():
        pop = ts.population(ts.node(individual.nodes[0]).population).metadata["name"]
        counters[pop] += 1
        names.append(f"sim-{pop}-{counters[pop]:04d}")
        populations.append(pop)
    vcf = Path(vcf)
    vcf.parent.mkdir(parents=True, exist_ok=True)
    text = vcf.with_name(f".{vcf.name}.tmp.vcf")
    try:
        with open(text, "w") as handle:
            ts.write_vcf(handle, individual_names=names, contig_id=contig.removeprefix("chr"))
        pysam.tabix_compress(str(text), str(vcf), force=True)
        pysam.tabix_index(str(vcf), preset="vcf", force=True)
    finally:
        text.unlink(missing_ok=True)
    sheet = pd.DataFrame({"sample": names, "population": populations})
    write_text(sheet.to_csv(sep="\t", index=False), sample_sheet)
