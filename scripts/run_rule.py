from omicsgen.workflow import run_rule

run_rule(snakemake)
