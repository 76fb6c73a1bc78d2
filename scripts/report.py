from omicsgen.workflow import run_step

run_step(
    snakemake.log[0],
    "report",
    snakemake.input.metrics,
    snakemake.input.per_label,
    snakemake.output[0],
    **snakemake.params,
)
