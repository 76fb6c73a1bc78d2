from omicsgen.workflow import run_step

run_step(
    snakemake.log[0],
    "aggregate",
    **snakemake.input,
    output_metrics=snakemake.output.metrics,
    output_per_label=snakemake.output.per_label,
)
