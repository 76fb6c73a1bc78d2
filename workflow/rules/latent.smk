# Inference runs on the CPU (gpu=0): encoding a dataset takes seconds, less than a GPU job start.
rule latent:
    input:
        real="results/{dataset}/preprocessed.h5ad",
        checkpoint="results/{dataset}/{model}/model.ckpt",
    output:
        "results/{dataset}/{model}/latent.h5ad",
    wildcard_constraints:
        model=_alternatives(TRAINED_ENCODERS),
    params:
        n_neighbors=config["latent"]["n_neighbors"],
        seed=config["seed"],
    log:
        "results/logs/latent/{dataset}_{model}.log",
    benchmark:
        "results/benchmarks/latent/{dataset}_{model}.tsv"
    threads: dataset_threads
    resources:
        mem_mb=mem_mb(2000, 12),
        runtime=runtime(10, 120),
        gpu=0,
    conda:
        "../../envs/torch.yaml"
    script:
        "../../scripts/latent.py"


rule baseline_pca:
    input:
        "results/{dataset}/preprocessed.h5ad",
    output:
        "results/{dataset}/pca/latent.h5ad",
    params:
        n_components=pca_components(),
        n_neighbors=config["latent"]["n_neighbors"],
        seed=config["seed"],
    log:
        "results/logs/latent/{dataset}_pca.log",
    benchmark:
        "results/benchmarks/latent/{dataset}_pca.tsv"
    threads: dataset_threads
    resources:
        mem_mb=mem_mb(2000, 12),
        runtime=runtime(10, 120),
    conda:
        "../../envs/evaluate.yaml"
    script:
        "../../scripts/baseline_pca.py"
