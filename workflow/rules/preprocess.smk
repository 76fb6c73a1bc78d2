rule demo_pbmc68k:
    output:
        output="resources/pbmc68k/pbmc68k_reduced_counts.h5ad",
    log:
        "results/logs/demo_pbmc68k.log",
    benchmark:
        "results/benchmarks/demo_pbmc68k.tsv"
    conda:
        "../../envs/preprocess.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/run_rule.py"


rule preprocess_h5ad:
    input:
        input=dataset_input,
    output:
        output="results/{dataset}/preprocessed.h5ad",
    log:
        "results/logs/preprocess/{dataset}.log",
    benchmark:
        "results/benchmarks/preprocess/{dataset}.tsv"
    wildcard_constraints:
        dataset=_alternatives(H5AD_DATASETS),
    conda:
        "../../envs/preprocess.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(2000, 6),
        runtime=runtime(10, 30),
    params:
        preprocess=preprocess_params,
    script:
        "../../scripts/run_rule.py"


rule simulate_ooa_panel:
    output:
        vcf=SIMULATED_PANEL["vcf"],
        index=f"{SIMULATED_PANEL['vcf']}.tbi",
        sample_sheet=SIMULATED_PANEL["sample_sheet"],
    log:
        "results/logs/simulate_ooa_panel.log",
    benchmark:
        "results/benchmarks/simulate_ooa_panel.tsv"
    conda:
        "../../envs/preprocess.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        panel=simulated_panel_params(),
    script:
        "../../scripts/run_rule.py"


rule phase_vcf:
    input:
        unpack(phase_input),
    output:
        output="results/{dataset}/phased.vcf.gz",
        index="results/{dataset}/phased.vcf.gz.tbi",
        summary="results/{dataset}/phasing.json",
    log:
        "results/logs/phase/{dataset}.log",
    benchmark:
        "results/benchmarks/phase/{dataset}.tsv"
    wildcard_constraints:
        dataset=_alternatives(PHASED_DATASETS),
    conda:
        "../../envs/preprocess.yaml"
    threads: dataset_threads
    resources:
        mem_mb=mem_mb(4000, 20),
        runtime=runtime(10, 120),
    params:
        seed=config["seed"],
    script:
        "../../scripts/run_rule.py"


rule preprocess_vcf:
    input:
        unpack(vcf_input),
    output:
        output="results/{dataset}/preprocessed.h5ad",
    log:
        "results/logs/preprocess/{dataset}.log",
    benchmark:
        "results/benchmarks/preprocess/{dataset}.tsv"
    wildcard_constraints:
        dataset=_alternatives(VCF_DATASETS),
    conda:
        "../../envs/preprocess.yaml"
    threads: dataset_threads
    resources:
        mem_mb=mem_mb(2000, 10),
        runtime=runtime(10, 60),
    params:
        preprocess=preprocess_vcf_params,
    script:
        "../../scripts/run_rule.py"


rule preprocess_bam:
    input:
        unpack(bam_input),
    output:
        output="results/{dataset}/preprocessed.h5ad",
    log:
        "results/logs/preprocess/{dataset}.log",
    benchmark:
        "results/benchmarks/preprocess/{dataset}.tsv"
    wildcard_constraints:
        dataset=_alternatives(BAM_DATASETS),
    conda:
        "../../envs/preprocess.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(4000, 1),
        runtime=runtime(10, 60),
    params:
        preprocess=preprocess_bam_params,
    script:
        "../../scripts/run_rule.py"
