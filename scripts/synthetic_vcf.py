from omicsgen import steps
from omicsgen.workflow import run_step

run_step(snakemake.log[0], steps.synthetic_vcf, snakemake.input[0], snakemake.output.vcf)
