from omicsgen.workflow import run_step

run_step(
    snakemake.log[0], "simulate_panel", snakemake.output.vcf, snakemake.output.sample_sheet, **snakemake.params.panel
)
