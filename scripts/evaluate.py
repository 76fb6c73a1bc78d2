from omicsgen.workflow import run_step

run_step(
    snakemake.log[0],
    "evaluate",
    **snakemake.input,
    **snakemake.output,
    dataset=snakemake.wildcards.dataset,
    model=snakemake.wildcards.model,
    threads=snakemake.threads,
    **snakemake.params,
)
