rule report:
    input:
        metrics="results/metrics.tsv",
        per_label="results/augmentation.tsv",
        files=report_files,
    output:
        report("results/report.html", caption="../report/report.rst", category="Report"),
    params:
        layout=report_layout(),
        ld_window_sites=config["evaluate"]["ld_window_sites"],
        ld_window_kb=config["evaluate"]["ld_window_kb"],
    log:
        "results/logs/report.log",
    benchmark:
        "results/benchmarks/report.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(2000, 2),
        runtime=runtime(15, 30),
    conda:
        "../../envs/report.yaml"
    script:
        "../../scripts/report.py"
