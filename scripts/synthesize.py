from omicsgen.workflow import run_step

run_step(
    snakemake.log[0],
    "synthesize",
    **snakemake.input,
    output=snakemake.output[0],
    family=snakemake.wildcards.model,
    **snakemake.params,
)
