# One training rule for every model family in config `models` (ae, vae, gan, ar, hmm). A GAN with
# `space: latent` plays in the code space of the dataset's AE, so its job also needs the AE's
# checkpoint (trained here even when `ae` is not listed).
rule train:
    input:
        unpack(train_inputs),
    output:
        checkpoint="results/{dataset}/{model}/model.ckpt",
        history=report(
            "results/{dataset}/{model}/history.csv",
            caption="../report/history.rst",
            category="Training",
        ),
        training="results/{dataset}/{model}/training.json",
    log:
        "results/logs/train/{dataset}_{model}.log",
    benchmark:
        "results/benchmarks/train/{dataset}_{model}.tsv"
    wildcard_constraints:
        model=_alternatives(TRAINED_MODELS + TRAINED_AS_INPUT),
    conda:
        "../../envs/torch.yaml"
    threads: dataset_threads
    resources:
        mem_mb=train_resource(0, mem_mb(2000, 6)),
        runtime=train_resource(1, runtime(60, 1500, cap_min=1440)),
        gpu=config["resources"]["gpu"],
    params:
        family=lambda wildcards: wildcards.model,
        model=trained_model_params,
        seed=config["seed"],
        stream=config["resources"]["stream"],
    script:
        "../../scripts/run_rule.py"
