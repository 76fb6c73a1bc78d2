rule synthesize:
    input:
        real="results/{dataset}/preprocessed.h5ad",
        checkpoint="results/{dataset}/{model}/model.ckpt",
    output:
        "results/{dataset}/{model}/synthetic.h5ad",
    wildcard_constraints:
        model=_alternatives(TRAINED_MODELS),
    params:
        n_per_label=config["synthesize"]["n_per_label"],
        strategy=config["synthesize"]["per_label"],
        seed=config["seed"],
    log:
        "results/logs/synthesize/{dataset}_{model}.log",
    benchmark:
        "results/benchmarks/synthesize/{dataset}_{model}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(2000, 3),
        runtime=runtime(10, 30),
        gpu=0,
    conda:
        "../../envs/torch.yaml"
    script:
        "../../scripts/synthesize.py"


rule baseline_marginals:
    input:
        "results/{dataset}/preprocessed.h5ad",
    output:
        "results/{dataset}/marginals/synthetic.h5ad",
    params:
        n_per_label=config["synthesize"]["n_per_label"],
        strategy=config["synthesize"]["per_label"],
        seed=config["seed"],
    log:
        "results/logs/synthesize/{dataset}_marginals.log",
    benchmark:
        "results/benchmarks/synthesize/{dataset}_marginals.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(2000, 3),
        runtime=runtime(10, 30),
    conda:
        "../../envs/evaluate.yaml"
    script:
        "../../scripts/baseline_marginals.py"


rule synthetic_vcf:
    input:
        "results/{dataset}/{model}/synthetic.h5ad",
    output:
        vcf="results/{dataset}/{model}/synthetic.vcf.gz",
        index="results/{dataset}/{model}/synthetic.vcf.gz.tbi",
    log:
        "results/logs/synthesize/{dataset}_{model}_vcf.log",
    benchmark:
        "results/benchmarks/synthesize/{dataset}_{model}_vcf.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 3),
        runtime=runtime(10, 30),
    conda:
        "../../envs/preprocess.yaml"
    script:
        "../../scripts/synthetic_vcf.py"
