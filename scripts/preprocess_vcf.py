from omicsgen.workflow import run_step

run_step(
    snakemake.log[0],
    "preprocess_vcf",
    snakemake.input.vcf,
    snakemake.output[0],
    sample_sheet=snakemake.input.get("sample_sheet"),
    threads=snakemake.threads,
    **snakemake.params.preprocess,
)
