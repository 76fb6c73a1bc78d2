rule train_vae:
    input:
        "results/{dataset}/preprocessed.h5ad",
    output:
        checkpoint="results/{dataset}/vae/model.ckpt",
        history=report(
            "results/{dataset}/vae/history.csv",
            caption="../report/history.rst",
            category="Training",
        ),
    params:
        model=model_params("vae"),
        seed=config["seed"],
    log:
        "results/logs/train/{dataset}_vae.log",
    benchmark:
        "results/benchmarks/train/{dataset}_vae.tsv"
    threads: config["resources"]["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=config["resources"]["gpu"],
    conda:
        "../../envs/torch.yaml"
    script:
        "../../scripts/train_vae.py"
