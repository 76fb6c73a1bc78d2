# One training rule for every model family in config `models` (ae, vae, gan).
rule train:
    input:
        "results/{dataset}/preprocessed.h5ad",
    output:
        checkpoint="results/{dataset}/{model}/model.ckpt",
        history=report(
            "results/{dataset}/{model}/history.csv",
            caption="../report/history.rst",
            category="Training",
        ),
        training="results/{dataset}/{model}/training.json",
    wildcard_constraints:
        model=_alternatives(TRAINED_MODELS),
    params:
        model=trained_model_params,
        seed=config["seed"],
        stream=config["resources"]["stream"],
    log:
        "results/logs/train/{dataset}_{model}.log",
    benchmark:
        "results/benchmarks/train/{dataset}_{model}.tsv"
    threads: dataset_threads
    resources:
        mem_mb=mem_mb(2000, 6),
        runtime=runtime(60, 1500, cap_min=1440),
        gpu=config["resources"]["gpu"],
    conda:
        "../../envs/torch.yaml"
    script:
        "../../scripts/train.py"
