from omicsgen import steps
from omicsgen.workflow import run_step

run_step(
    snakemake.log[0],
    steps.pca_baseline,
    snakemake.input[0],
    snakemake.output[0],
    n_components=snakemake.params.n_components,
    n_neighbors=snakemake.params.n_neighbors,
    seed=snakemake.params.seed,
)
