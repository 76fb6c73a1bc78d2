from omicsgen.workflow import run_step

run_step(snakemake.log[0], "pca_baseline", snakemake.input[0], snakemake.output[0], **snakemake.params)
