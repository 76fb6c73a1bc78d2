rule synthesize:
    input:
        real="results/{dataset}/preprocessed.h5ad",
        checkpoint="results/{dataset}/{model}/model.ckpt",
    output:
        output="results/{dataset}/{model}/synthetic.h5ad",
    log:
        "results/logs/synthesize/{dataset}_{model}.log",
    benchmark:
        "results/benchmarks/synthesize/{dataset}_{model}.tsv"
    wildcard_constraints:
        model=_alternatives(TRAINED_MODELS),
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(2000, 3),
        runtime=runtime(10, 30),
        gpu=0,
    params:
        family=lambda wildcards: wildcards.model,
        n_per_label=config["synthesize"]["n_per_label"],
        per_label=config["synthesize"]["per_label"],
        seed=config["seed"],
    script:
        "../../scripts/run_rule.py"


rule baseline_marginals:
    input:
        input="results/{dataset}/preprocessed.h5ad",
    output:
        output="results/{dataset}/marginals/synthetic.h5ad",
    log:
        "results/logs/synthesize/{dataset}_marginals.log",
    benchmark:
        "results/benchmarks/synthesize/{dataset}_marginals.tsv"
    conda:
        "../../envs/evaluate.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(2000, 3),
        runtime=runtime(10, 30),
    params:
        n_per_label=config["synthesize"]["n_per_label"],
        per_label=config["synthesize"]["per_label"],
        seed=config["seed"],
    script:
        "../../scripts/run_rule.py"


rule synthetic_vcf:
    input:
        input="results/{dataset}/{model}/synthetic.h5ad",
    output:
        output="results/{dataset}/{model}/synthetic.vcf.gz",
        index="results/{dataset}/{model}/synthetic.vcf.gz.tbi",
    log:
        "results/logs/synthesize/{dataset}_{model}_vcf.log",
    benchmark:
        "results/benchmarks/synthesize/{dataset}_{model}_vcf.tsv"
    conda:
        "../../envs/preprocess.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 3),
        runtime=runtime(10, 30),
    script:
        "../../scripts/run_rule.py"


rule synthetic_bed:
    input:
        input="results/{dataset}/{model}/synthetic.h5ad",
    output:
        output="results/{dataset}/{model}/synthetic.bed",
        variants="results/{dataset}/{model}/synthetic.bim",
        samples="results/{dataset}/{model}/synthetic.fam",
    log:
        "results/logs/synthesize/{dataset}_{model}_bed.log",
    benchmark:
        "results/benchmarks/synthesize/{dataset}_{model}_bed.tsv"
    conda:
        "../../envs/preprocess.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 3),
        runtime=runtime(10, 30),
    script:
        "../../scripts/run_rule.py"


rule synthetic_pgen:
    input:
        input="results/{dataset}/{model}/synthetic.h5ad",
    output:
        output="results/{dataset}/{model}/synthetic.pgen",
        variants="results/{dataset}/{model}/synthetic.pvar",
        samples="results/{dataset}/{model}/synthetic.psam",
    log:
        "results/logs/synthesize/{dataset}_{model}_pgen.log",
    benchmark:
        "results/benchmarks/synthesize/{dataset}_{model}_pgen.tsv"
    conda:
        "../../envs/preprocess.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 3),
        runtime=runtime(10, 30),
    script:
        "../../scripts/run_rule.py"
