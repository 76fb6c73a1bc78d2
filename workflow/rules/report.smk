rule report:
    input:
        metrics="results/metrics.tsv",
        per_label="results/augmentation.tsv",
        comparisons="results/comparisons.tsv",
        files=report_files,
    output:
        output=report("results/report.html", caption="../report/report.rst", category="Report"),
    log:
        "results/logs/report.log",
    benchmark:
        "results/benchmarks/report.tsv"
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(2000, 2),
        runtime=runtime(15, 30),
    params:
        layout=report_layout(),
        evaluate=dict(sorted(config["evaluate"].items())),
        seed=config["seed"],
    script:
        "../../scripts/run_rule.py"
