from omicsgen.workflow import run_step

run_step(snakemake.log[0], "preprocess_h5ad", snakemake.input[0], snakemake.output[0], **snakemake.params.preprocess)
