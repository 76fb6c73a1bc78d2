from omicsgen.workflow import run_step

run_step(snakemake.log[0], "synthetic_vcf", snakemake.input[0], snakemake.output.vcf)
