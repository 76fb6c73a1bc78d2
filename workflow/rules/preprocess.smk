rule demo_pbmc68k:
    output:
        "resources/pbmc68k/pbmc68k_reduced_counts.h5ad",
    log:
        "results/logs/demo_pbmc68k.log",
    benchmark:
        "results/benchmarks/demo_pbmc68k.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/preprocess.yaml"
    script:
        "../../scripts/demo_pbmc68k.py"


rule preprocess_h5ad:
    input:
        dataset_input,
    output:
        "results/{dataset}/preprocessed.h5ad",
    params:
        preprocess=preprocess_params,
    log:
        "results/logs/preprocess/{dataset}.log",
    benchmark:
        "results/benchmarks/preprocess/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=30,
    conda:
        "../../envs/preprocess.yaml"
    script:
        "../../scripts/preprocess_h5ad.py"
