# Inference runs on the CPU (gpu=0): encoding a dataset takes seconds, less than a GPU job start.
rule latent_vae:
    input:
        real="results/{dataset}/preprocessed.h5ad",
        checkpoint="results/{dataset}/vae/model.ckpt",
    output:
        "results/{dataset}/vae/latent.h5ad",
    params:
        n_neighbors=config["latent"]["n_neighbors"],
        seed=config["seed"],
    log:
        "results/logs/latent/{dataset}_vae.log",
    benchmark:
        "results/benchmarks/latent/{dataset}_vae.tsv"
    threads: config["resources"]["threads"]
    resources:
        mem_mb=8000,
        runtime=30,
        gpu=0,
    conda:
        "../../envs/torch.yaml"
    script:
        "../../scripts/latent_vae.py"


rule baseline_pca:
    input:
        "results/{dataset}/preprocessed.h5ad",
    output:
        "results/{dataset}/pca/latent.h5ad",
    params:
        n_components=config["vae"]["n_latent"],
        n_neighbors=config["latent"]["n_neighbors"],
        seed=config["seed"],
    log:
        "results/logs/latent/{dataset}_pca.log",
    benchmark:
        "results/benchmarks/latent/{dataset}_pca.tsv"
    threads: config["resources"]["threads"]
    resources:
        mem_mb=8000,
        runtime=30,
    conda:
        "../../envs/evaluate.yaml"
    script:
        "../../scripts/baseline_pca.py"
