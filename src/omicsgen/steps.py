"""File-to-file steps of the workflow: read inputs, call the library, write outputs.

Each function is what the Snakemake rule of the same name runs (``scripts/run_rule.py``:
:func:`omicsgen.workflow.run_rule` passes the job's named files, params and resources), and each
can be called from Python without Snakemake. Every AnnData written carries ``uns["omicsgen"]["provenance"]``.

Each step imports the libraries it uses when it runs: a job pays for torch, Lightning or
scanpy only where it needs them (job start-up is most of a small job's time).
"""

from __future__ import annotations

import logging
from pathlib import Path

from omicsgen import contract
from omicsgen.io import read_h5ad, write_h5ad, write_text
from omicsgen.provenance import provenance

log = logging.getLogger(__name__)


def _stamp(adata, inputs: dict, params: dict):
    adata.uns["omicsgen"] = {**adata.uns.get("omicsgen", {}), "provenance": provenance(inputs, params)}
    return adata


def demo_pbmc68k(output: str) -> None:
    """Write the pbmc68k demo AnnData with rebuilt counts (:func:`omicsgen.datasets.pbmc68k_counts`)."""
    from omicsgen.datasets import pbmc68k_counts

    write_h5ad(pbmc68k_counts(), output)


def preprocess_h5ad(input: str, output: str, **params) -> None:
    """``.h5ad`` -> model-ready AnnData; ``params`` are :func:`~omicsgen.preprocess.prepare_scrna`'s keywords.

    Raises ``InputError`` for bad input and for a split too small to train and evaluate on
    (:func:`~omicsgen.preprocess.split.check_split_sizes`); the same holds for the other
    ``preprocess_*`` steps.
    """
    from omicsgen.preprocess.scrna import prepare_scrna

    adata = prepare_scrna(read_h5ad(input), str(input), **params)
    _write_preprocessed(adata, output, {"input": input}, params, input, "cells", f"{adata.n_vars} genes")


def simulate_ooa_panel(vcf: str, sample_sheet: str, **params) -> None:
    """Write the simulated YRI/CEU/CHB panel (:func:`omicsgen.simulate.simulate_ooa_panel`)."""
    from omicsgen.simulate import simulate_ooa_panel

    simulate_ooa_panel(vcf, sample_sheet, **params)


def phase_vcf(input: str, output: str, summary: str, *, seed: int, threads: int = 1, mem_mb: int | None = None) -> None:
    """Phase an unphased VCF/BCF with Beagle (:func:`omicsgen.genotypes.phasing.phase_vcf`); ``summary``: what
    was done, as JSON, for the preprocessing step."""
    from omicsgen.genotypes.phasing import phase_vcf as phase
    from omicsgen.genotypes.phasing import write_summary

    write_summary(phase(input, output, seed=seed, threads=threads, mem_mb=mem_mb), summary)


def preprocess_vcf(
    input: str,
    output: str,
    *,
    sample_sheet: str | None = None,
    phasing: str | None = None,
    threads: int = 1,
    **params,
) -> None:
    """VCF/BCF -> model-ready AnnData; ``params`` are :func:`~omicsgen.preprocess.prepare_genotypes`'s keywords.
    ``phasing``: the summary JSON of :func:`phase_vcf` where ``input`` is its output, kept in
    ``uns["omicsgen"]["phasing"]`` (the report says the haplotypes are Beagle's)."""
    import json

    from omicsgen.preprocess.genotypes import prepare_genotypes

    adata = prepare_genotypes(input, sample_sheet=sample_sheet, threads=threads, **params)
    if phasing is not None:
        adata.uns["omicsgen"]["phasing"] = json.loads(Path(phasing).read_text())
    kind = "haplotypes" if contract.rows_per_sample(adata) == 2 else "samples"
    inputs = {"input": input, **({"sample_sheet": sample_sheet} if sample_sheet else {})}
    _write_preprocessed(adata, output, inputs, params, sample_sheet or input, kind, f"{adata.n_vars} sites")


def preprocess_bam(input: str, output: str, *, reference: str | None = None, bed: str | None = None, **params) -> None:
    """BAM/CRAM (or a sample sheet of them) -> model-ready AnnData (:func:`~omicsgen.preprocess.prepare_alignments`)."""
    from omicsgen.preprocess.alignments import prepare_alignments

    adata = prepare_alignments(input, reference=reference, bed=bed, **params)
    shape = adata.uns["bam"]["shape"]
    inputs = {"input": input, **{k: v for k, v in (("reference", reference), ("bed", bed)) if v}}
    _write_preprocessed(
        adata,
        output,
        inputs,
        params,
        input,
        "windows" if shape == "pileup" else "rows",
        f"{adata.n_vars} features ({shape})",
    )


def _write_preprocessed(adata, output: str, inputs: dict, params: dict, source: str, kind: str, var_text: str) -> None:
    """Check the split's sizes (:func:`~omicsgen.preprocess.split.check_split_sizes`), log what was made, stamp
    the provenance and write ``output``: the end of every preprocessing step."""
    from omicsgen.preprocess.split import check_split_sizes

    check_split_sizes(adata.obs["split"], source, kind)
    log.info(
        "%s: %d %s x %s, likelihood %s, split %s",
        inputs["input"],
        adata.n_obs,
        kind,
        var_text,
        contract.info(adata)["likelihood"],
        adata.obs["split"].value_counts().to_dict(),
    )
    write_h5ad(_stamp(adata, inputs, params), output)


def synthetic_vcf(input: str, output: str) -> None:
    """Write synthetic genotypes as a bgzipped, indexed VCF (:func:`omicsgen.genotypes.vcf.write_vcf`)."""
    from omicsgen.genotypes.vcf import write_vcf

    synthetic = read_h5ad(input)
    method = synthetic.uns["omicsgen"]["synthetic_method"]
    write_vcf(synthetic, output, source=f"omicsgen synthetic genotypes ({method}); not real samples")


def synthetic_bed(input: str, output: str, variants: str, samples: str) -> None:
    """Write synthetic genotypes as a PLINK 1 fileset (:func:`omicsgen.genotypes.plink.write_plink`);
    ``variants`` and ``samples`` are the ``.bim`` and ``.fam`` written next to ``output``."""
    _synthetic_plink(input, output)


def synthetic_pgen(input: str, output: str, variants: str, samples: str) -> None:
    """Write synthetic genotypes as a PLINK 2 fileset (:func:`omicsgen.genotypes.plink.write_plink`);
    ``variants`` and ``samples`` are the ``.pvar`` and ``.psam`` written next to ``output``."""
    _synthetic_plink(input, output)


def _synthetic_plink(input: str, output: str) -> None:
    from omicsgen.genotypes.plink import write_plink

    write_plink(read_h5ad(input), output)


def train(
    input: str,
    checkpoint: str,
    history: str,
    training: str,
    *,
    family: str,
    model: dict,
    seed: int,
    threads: int,
    gpus: int,
    stream: bool | str = "auto",
    mem_mb: int | None = None,
    autoencoder: str | None = None,
    phaser: str | None = None,
) -> None:
    """Train a model family (:func:`omicsgen.train.train_model`); writes the checkpoint, the history CSV
    and the run's budget and outcome (JSON). ``autoencoder``: the AE checkpoint of a latent-space GAN;
    ``phaser``: the HMM checkpoint that phases unphased dosages for ``ar`` with ``phase: hmm``.

    The matrix is loaded into memory, or left on disk and streamed in blocks when ``stream`` is
    true or, with ``"auto"``, when it would take more than half the memory the job has (its
    ``mem_mb``; :func:`omicsgen.data.should_stream`).
    """
    from omicsgen.data import matrix_nbytes, should_stream
    from omicsgen.io import read_h5ad_backed
    from omicsgen.train import train_model

    backed = read_h5ad_backed(input)
    streamed = should_stream(backed.X, stream, mem_mb)
    log.info(
        "%s: the matrix takes %.2f GB in memory (stream: %s, job memory %s MB): %s",
        input,
        matrix_nbytes(backed.X) / 1e9,
        stream,
        mem_mb,
        "streaming batches from the file" if streamed else "loading it",
    )
    if not streamed:
        backed.file.close()  # read_h5ad peaks lower than AnnData.to_memory
    adata = backed if streamed else read_h5ad(input)
    try:
        train_model(
            adata,
            family,
            checkpoint,
            history,
            params=model,
            seed=seed,
            threads=threads,
            gpus=gpus,
            training=training,
            autoencoder=autoencoder,
            phaser=phaser,
        )
    finally:
        if streamed:
            backed.file.close()


def latent(real: str, checkpoint: str, output: str, *, family: str, n_neighbors: int, seed: int) -> None:
    """Encode every cell with a trained AE or VAE; write latent, its PCA/UMAP and per-cell reconstruction errors."""
    from omicsgen.latent import embed, encoder_latent
    from omicsgen.train import load_model

    adata = read_h5ad(real)
    model = load_model(checkpoint, family)
    out = embed(adata, *encoder_latent(adata, model), family, n_neighbors=n_neighbors, seed=seed)
    params = {"n_neighbors": n_neighbors, "seed": seed}
    write_h5ad(_stamp(out, {"real": real, "checkpoint": checkpoint}, params), output)


def baseline_pca(input: str, output: str, *, n_components: int, n_neighbors: int, seed: int) -> None:
    """PCA baseline latent (:func:`omicsgen.latent.pca_latent`) with its PCA/UMAP and per-cell reconstruction errors."""
    from omicsgen.latent import embed, pca_latent

    adata = read_h5ad(input)
    out = embed(adata, *pca_latent(adata, n_components, seed), "pca", n_neighbors=n_neighbors, seed=seed)
    params = {"n_components": n_components, "n_neighbors": n_neighbors, "seed": seed}
    write_h5ad(_stamp(out, {"input": input}, params), output)


def synthesize(
    real: str, checkpoint: str, output: str, *, family: str, n_per_label: int, per_label: str, seed: int
) -> None:
    """Sample synthetic cells from a trained AE, VAE or GAN (:func:`omicsgen.synthesize.synthesize`)."""
    from omicsgen.synthesize import synthesize as synthesize_model
    from omicsgen.train import load_model

    out = synthesize_model(read_h5ad(real), load_model(checkpoint, family), family, n_per_label, seed, per_label)
    params = {"n_per_label": n_per_label, "per_label": per_label, "seed": seed}
    write_h5ad(_stamp(out, {"real": real, "checkpoint": checkpoint}, params), output)


def baseline_marginals(input: str, output: str, *, n_per_label: int, per_label: str, seed: int) -> None:
    """Independent-marginals synthetic baseline (:func:`omicsgen.synthesize.synthesize_marginals`)."""
    from omicsgen.synthesize import synthesize_marginals

    out = synthesize_marginals(read_h5ad(input), n_per_label, seed, per_label)
    params = {"n_per_label": n_per_label, "per_label": per_label, "seed": seed}
    write_h5ad(_stamp(out, {"input": input}, params), output)


def evaluate(
    real: str,
    metrics: str,
    per_label: str,
    bootstrap: str,
    *,
    dataset: str,
    model: str,
    latent: str | None = None,
    synthetic: str | None = None,
    control: str | None = None,
    knn_k: int,
    detection_trees: int,
    ld_window_sites: int,
    ld_window_kb: float,
    rare_fraction: float,
    max_cells: int,
    n_bootstrap: int,
    min_label_test: int,
    seed: int,
    threads: int,
) -> None:
    """Metrics of one model or control on one dataset (:func:`omicsgen.evaluate.evaluate_model`), its
    per-label recalls and its metrics' bootstrap replicates (:func:`omicsgen.evaluate.paired.replicate_table`),
    as TSVs.

    Only the cells the metrics use (:func:`omicsgen.evaluate.evaluation_cells`) are read from the
    real and latent files, so memory stays bounded on large data.
    """
    from omicsgen.contract import obs_labels
    from omicsgen.evaluate import evaluate_model, evaluation_cells
    from omicsgen.evaluate.paired import replicate_table
    from omicsgen.io import read_h5ad_rows

    def cells(adata):
        return evaluation_cells(adata.obs["split"].astype(str).to_numpy(), obs_labels(adata), max_cells, seed)

    replicates: dict = {}
    table, recalls = evaluate_model(
        read_h5ad_rows(real, cells),
        dataset=dataset,
        model=model,
        latent=read_h5ad_rows(latent, cells) if latent else None,
        synthetic=read_h5ad(synthetic) if synthetic else None,
        control=control,
        knn_k=knn_k,
        detection_trees=detection_trees,
        seed=seed,
        threads=threads,
        ld_window_sites=ld_window_sites,
        ld_window_kb=ld_window_kb,
        rare_fraction=rare_fraction,
        n_bootstrap=n_bootstrap,
        min_label_test=min_label_test,
        replicates=replicates,
    )
    write_text(table.to_csv(sep="\t", index=False), metrics)
    write_text(recalls.to_csv(sep="\t", index=False), per_label)
    write_text(replicate_table(dataset, model, replicates).to_csv(sep="\t", index=False), bootstrap)


def aggregate_metrics(
    metrics: list[str], per_label: list[str], bootstrap: list[str], table: str, augmentation: str, comparisons: str
) -> None:
    """Join per-model TSVs into ``table``, the comparison table (:func:`omicsgen.evaluate.comparison_table`),
    ``augmentation``, the per-label recalls, and ``comparisons``, the paired differences between every two
    models of a dataset (:func:`omicsgen.evaluate.paired.paired_comparisons`)."""
    import pandas as pd

    from omicsgen.evaluate import COLUMNS, comparison_table
    from omicsgen.evaluate.paired import paired_comparisons

    tidy = pd.concat([pd.read_csv(p, sep="\t") for p in metrics], ignore_index=True)[COLUMNS]
    write_text(comparison_table(tidy).to_csv(sep="\t", index=False), table)
    replicates = pd.concat([pd.read_csv(p, sep="\t") for p in bootstrap], ignore_index=True)
    write_text(paired_comparisons(tidy, replicates).to_csv(sep="\t", index=False), comparisons)
    recalls = pd.concat([pd.read_csv(p, sep="\t") for p in per_label], ignore_index=True)
    write_text(recalls.to_csv(sep="\t", index=False), augmentation)


def report(
    metrics: str, per_label: str, comparisons: str, output: str, *, layout: dict, evaluate: dict, seed: int
) -> None:
    """Write the HTML report (:func:`omicsgen.report.build_report`) from the comparison table and the paired
    comparisons; ``evaluate`` is the config's evaluation section (the metrics' settings the report names),
    ``seed`` the run's."""
    import pandas as pd

    from omicsgen.evaluate import tidy_metrics
    from omicsgen.report import build_report

    build_report(
        tidy_metrics(pd.read_csv(metrics, sep="\t")),
        pd.read_csv(per_label, sep="\t"),
        layout,
        Path(output),
        settings=evaluate,
        seed=seed,
        comparisons=pd.read_csv(comparisons, sep="\t"),
    )
