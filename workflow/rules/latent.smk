# Inference runs on the CPU (gpu=0): encoding a dataset takes seconds, less than a GPU job start.
rule latent:
    input:
        real="results/{dataset}/preprocessed.h5ad",
        checkpoint="results/{dataset}/{model}/model.ckpt",
    output:
        output="results/{dataset}/{model}/latent.h5ad",
    log:
        "results/logs/latent/{dataset}_{model}.log",
    benchmark:
        "results/benchmarks/latent/{dataset}_{model}.tsv"
    wildcard_constraints:
        model=_alternatives(TRAINED_ENCODERS),
    conda:
        "../../envs/torch.yaml"
    threads: dataset_threads
    resources:
        mem_mb=mem_mb(2000, 12),
        runtime=runtime(10, 120),
        gpu=0,
    params:
        family=lambda wildcards: wildcards.model,
        n_neighbors=config["latent"]["n_neighbors"],
        seed=config["seed"],
    script:
        "../../scripts/run_rule.py"


rule baseline_pca:
    input:
        input="results/{dataset}/preprocessed.h5ad",
    output:
        output="results/{dataset}/pca/latent.h5ad",
    log:
        "results/logs/latent/{dataset}_pca.log",
    benchmark:
        "results/benchmarks/latent/{dataset}_pca.tsv"
    conda:
        "../../envs/evaluate.yaml"
    threads: dataset_threads
    resources:
        mem_mb=mem_mb(2000, 12),
        runtime=runtime(10, 120),
    params:
        n_components=pca_components(),
        n_neighbors=config["latent"]["n_neighbors"],
        seed=config["seed"],
    script:
        "../../scripts/run_rule.py"
