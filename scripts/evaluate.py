from omicsgen import steps
from omicsgen.workflow import run_step

run_step(
    snakemake.log[0],
    steps.evaluate,
    snakemake.input.real,
    snakemake.output[0],
    dataset=snakemake.wildcards.dataset,
    model=snakemake.wildcards.model,
    latent=snakemake.input.get("latent"),
    synthetic=snakemake.input.get("synthetic"),
    knn_k=snakemake.params.knn_k,
    detection_trees=snakemake.params.detection_trees,
    seed=snakemake.params.seed,
    threads=snakemake.threads,
)
