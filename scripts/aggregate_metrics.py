from omicsgen import steps
from omicsgen.workflow import run_step

run_step(snakemake.log[0], steps.aggregate, list(snakemake.input), snakemake.output[0])
