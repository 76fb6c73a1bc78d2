from omicsgen import steps
from omicsgen.workflow import run_step

run_step(
    snakemake.log[0],
    steps.synthesize,
    snakemake.input.real,
    snakemake.input.checkpoint,
    snakemake.output[0],
    n_per_label=snakemake.params.n_per_label,
    seed=snakemake.params.seed,
)
