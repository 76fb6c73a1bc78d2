from omicsgen import steps
from omicsgen.workflow import run_step

run_step(
    snakemake.log[0],
    steps.latent,
    snakemake.input.real,
    snakemake.input.checkpoint,
    snakemake.output[0],
    n_neighbors=snakemake.params.n_neighbors,
    seed=snakemake.params.seed,
)
