from omicsgen import steps
from omicsgen.workflow import run_step

run_step(snakemake.log[0], steps.demo_pbmc68k, snakemake.output[0])
