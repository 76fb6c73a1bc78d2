from omicsgen.workflow import run_step

run_step(
    snakemake.log[0],
    "preprocess_bam",
    snakemake.input.alignments,
    snakemake.output[0],
    reference=snakemake.input.get("reference"),
    bed=snakemake.input.get("bed"),
    **snakemake.params.preprocess,
)
