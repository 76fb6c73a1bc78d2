from omicsgen.workflow import run_step

run_step(snakemake.log[0], "demo_pbmc68k", snakemake.output[0])
