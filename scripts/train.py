from omicsgen.workflow import run_step

run_step(
    snakemake.log[0],
    "train",
    snakemake.input[0],
    **snakemake.output,
    **snakemake.params,
    family=snakemake.wildcards.model,
    threads=snakemake.threads,
    gpus=snakemake.resources.gpu,
    mem_mb=snakemake.resources.mem_mb,
)
