rule evaluate:
    input:
        unpack(evaluate_input),
    output:
        metrics="results/{dataset}/{model}/metrics.tsv",
        per_label="results/{dataset}/{model}/per_label.tsv",
        bootstrap="results/{dataset}/{model}/bootstrap.tsv",
    log:
        "results/logs/evaluate/{dataset}_{model}.log",
    benchmark:
        "results/benchmarks/evaluate/{dataset}_{model}.tsv"
    conda:
        "../../envs/evaluate.yaml"
    threads: dataset_threads
    resources:
        mem_mb=mem_mb(2000, 8),
        runtime=runtime(10, 60),
    params:
        dataset=lambda wildcards: wildcards.dataset,
        model=lambda wildcards: wildcards.model,
        control=lambda wildcards: wildcards.model if wildcards.model in CONTROLS else None,
        knn_k=config["evaluate"]["knn_k"],
        rare_fraction=config["evaluate"]["rare_fraction"],
        detection_trees=config["evaluate"]["detection_trees"],
        ld_window_sites=config["evaluate"]["ld_window_sites"],
        ld_window_kb=config["evaluate"]["ld_window_kb"],
        max_cells=config["evaluate"]["max_cells"],
        n_bootstrap=config["evaluate"]["n_bootstrap"],
        min_label_test=config["evaluate"]["min_label_test"],
        seed=config["seed"],
    script:
        "../../scripts/run_rule.py"


rule aggregate_metrics:
    input:
        metrics=model_outputs("metrics.tsv"),
        per_label=model_outputs("per_label.tsv"),
        bootstrap=model_outputs("bootstrap.tsv"),
    output:
        table=report("results/metrics.tsv", caption="../report/metrics.rst", category="Evaluation"),
        augmentation=report("results/augmentation.tsv", caption="../report/augmentation.rst", category="Evaluation"),
        comparisons=report("results/comparisons.tsv", caption="../report/comparisons.rst", category="Evaluation"),
    log:
        "results/logs/aggregate_metrics.log",
    benchmark:
        "results/benchmarks/aggregate_metrics.tsv"
    conda:
        "../../envs/evaluate.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../../scripts/run_rule.py"
