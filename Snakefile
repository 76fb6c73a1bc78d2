# omicsgen: generative deep learning on genomics data.
# Stages: preprocess -> train -> latent -> synthesize -> evaluate -> report (workflow/rules/).


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/preprocess.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/latent.smk"
include: "workflow/rules/synthesize.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        "results/metrics.tsv",
        "results/comparisons.tsv",
        "results/report.html",
        synthetic_genotypes(),
