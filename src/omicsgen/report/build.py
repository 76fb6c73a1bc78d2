"""Assemble ``report.html`` from the workflow's outputs."""

from __future__ import annotations

import datetime as _dt
import json
import math
from pathlib import Path

import jinja2
import pandas as pd
from sklearn.decomposition import PCA

from omicsgen import __version__, contract
from omicsgen.evaluate.fidelity import matched_zero_fractions
from omicsgen.evaluate.metrics import (
    BASELINES,
    GROUPS,
    METRICS,
    compare,
    describe,
    direction,
    group_of,
    ranked,
    shortfall,
)
from omicsgen.evaluate.popgen import ld_pairs
from omicsgen.io import dense, read_h5ad, write_text
from omicsgen.preprocess import metric_scale
from omicsgen.registry import CONTROLS
from omicsgen.report import alignment_plots, genotype_plots, plots


def budget_text(run: dict) -> str:
    """One phrase on a model's training budget and how it ended, from its ``training.json``.

    Examples: ``"67 of 400 epochs (auto budget for 488 training observations), ended by early
    stopping"``; ``"640 of 640 generator steps in 400 epochs (auto budget for 488 training
    observations)"``; an epoch kept for its LD (``"kept"``) and a model trained on phased draws
    (``"phased"``) say so.
    """
    budget = run["budget"]
    rule = f"{budget['rule']} budget for {run['n_train']} training observations"
    if "generator_steps" in budget:
        steps = f"{run['generator_steps_run']} of {budget['generator_steps']} generator steps"
        return f"{steps} in {run['epochs_run']} epochs ({rule})"
    text = f"{run['epochs_run']} of {budget['max_epochs']} epochs ({rule}), ended by {run['stopped_by']}"
    if "kept" in run:  # ar, select: ld
        text += (
            f", epoch {run['kept']['epoch'] + 1} kept (from the best validation NLL on, the closest generated LD: "
            f"val_ld_gap {run['kept']['val_ld_gap']:.3f})"
        )
    if "phased" in run:
        phased = run["phased"]
        text += (
            f"; trained on haplotypes drawn from the posterior of the {phased['method']} model, {phased['draws']} "
            f"draws of each of {phased['genomes']} training genomes (phase: {phased['method']})"
        )
    return text


VERDICT_WORDS = {
    "better": "beats",
    "worse": "does NOT beat",
    "indistinguishable": "is indistinguishable from",
    "untested": "is not tested against (no intervals) ",
}


def _fmt(value: float, low: float, high: float) -> str:
    """``"0.812 [0.780, 0.840]"``; the interval left out when it is missing."""
    if pd.isna(low) or pd.isna(high):
        return f"{value:.3f}"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


class Judge:
    """Verdicts of one model against another on one metric: paired where their bootstrap replicates pair,
    else by the overlap of their intervals.

    Parameters
    ----------
    metrics
        Tidy table with columns ``dataset, model, metric, value, low, high``.
    comparisons
        :func:`~omicsgen.evaluate.paired.paired_comparisons` (``results/comparisons.tsv``), or
        None: every verdict by overlap.
    """

    def __init__(self, metrics: pd.DataFrame, comparisons: pd.DataFrame | None = None):
        self.values = metrics.set_index(["dataset", "model", "metric"])[["value", "low", "high"]]
        rows = [] if comparisons is None else comparisons.itertuples(index=False)
        self.paired = {(r.dataset, r.model, r.other, r.metric): r for r in rows}

    def __call__(self, dataset: str, metric: str, model: str, other: str) -> str:
        """``"better"``, ``"worse"``, ``"indistinguishable"`` or ``"untested"``: ``model`` against ``other``.

        The paired verdict (:func:`~omicsgen.evaluate.paired.paired_verdict`: the 95% interval of
        their difference on shared resamples) where ``comparisons`` has one that is not
        ``"untested"`` (too few replicates finite in both), else
        :func:`~omicsgen.evaluate.metrics.compare` of the two intervals (conservative: intervals
        that overlap can hold a difference that excludes 0).
        """
        paired = self.paired.get((dataset, model, other, metric))
        if paired is not None and paired.verdict != "untested":
            return paired.verdict
        return compare(
            metric, tuple(self.values.loc[(dataset, model, metric)]), tuple(self.values.loc[(dataset, other, metric)])
        )

    def difference(self, dataset: str, metric: str, model: str, other: str) -> str:
        """``"; paired difference -1.793 [-2.510, -0.950]"`` (``"...difference in distance to 0.5..."`` for a
        target metric), or ``""`` where the two do not pair."""
        paired = self.paired.get((dataset, model, other, metric))
        if paired is None:
            return ""
        best = METRICS[metric].best
        what = "difference" if math.isinf(best) else f"difference in distance to {best:g}"
        return f"; paired {what} {_fmt(paired.difference, paired.low, paired.high)}"


def verdicts(metrics: pd.DataFrame, comparisons: pd.DataFrame | None = None) -> list[dict]:
    """Compare every model with its baseline, and with the ``real`` control, on every ranked metric.

    A verdict comes from the 95% intervals (:class:`Judge`): "beats" or "does NOT beat" only
    when the paired interval of the difference excludes 0 (or, for models that do not pair, the
    intervals do not overlap), else "is indistinguishable from"; never from the point values alone.

    Parameters
    ----------
    metrics
        Tidy table with columns ``dataset, model, metric, value, low, high``.
    comparisons
        The paired comparisons (``results/comparisons.tsv``), or None (all by overlap).

    Returns
    -------
    list of dict
        ``{"dataset", "model", "metric", "group", "baseline", "value", "interval", "baseline_value",
        "verdict", "beats", "control", "text"}`` per comparison: ``interval`` the model's
        ``(value, low, high)``, ``verdict`` against the baseline (``"better"``, ``"worse"``,
        ``"indistinguishable"``, ``"untested"``), ``beats`` its ``== "better"``, ``control`` the
        verdict against the ``real`` control (None without one).
    """
    out = []
    judge = Judge(metrics, comparisons)
    table = judge.values
    for (dataset, model, metric), row in table.iterrows():
        baseline = METRICS[metric].baseline if metric in METRICS else None
        if (
            model in BASELINES
            or model in CONTROLS
            or baseline is None
            or (dataset, baseline, metric) not in table.index
        ):
            continue
        reference = table.loc[(dataset, baseline, metric)]
        if pd.isna(row["value"]) or pd.isna(reference["value"]):  # undefined here (e.g. no rare label to judge)
            continue
        verdict = judge(dataset, metric, model, baseline)
        control = None
        if (dataset, "real", metric) in table.index and pd.notna(table.loc[(dataset, "real", metric), "value"]):
            control = judge(dataset, metric, model, "real")
        out.append(
            {
                "dataset": dataset,
                "model": model,
                "metric": metric,
                "group": group_of(metric),
                "baseline": baseline,
                "value": row["value"],
                "interval": tuple(row),
                "baseline_value": reference["value"],
                "verdict": verdict,
                "beats": verdict == "better",
                "control": control,
                "text": f"{dataset}: {model} {VERDICT_WORDS[verdict]} {baseline} on {metric} "
                f"({_fmt(*row)} vs {_fmt(*reference)}{judge.difference(dataset, metric, model, baseline)}; "
                f"{direction(metric)} is better)",
            }
        )
    return out


PURPOSES = {
    "latent": "an embedding of real data (latent metrics)",
    "fidelity": "synthetic data that look like the real ones (fidelity)",
    "privacy": "synthetic data that do not give the training samples away (privacy)",
    "utility": "training a classifier on synthetic data (utility)",
}


def recommendations(verdict_list: list[dict], dataset: str, judge: Judge | None = None) -> list[str]:
    """Sentences of "which model to use for what" for one dataset, from the interval verdicts.

    Per metric group, among the models that beat their baseline beyond the noise on at least
    one metric: the one that leads on most metrics (its value is the best of the models', or
    not worse than the best one, :func:`leaders`), then the one with most gains over
    the baseline, then fewest losses. Counting gains alone would put a model that beats the
    baseline by a hair on two metrics above one that beats it by far on one and ties on the
    rest (on genotypes: LD r correlation 0.14 against 0.79). The sentence gives how many
    metrics it beats, ties and loses against the baseline, on how many it reaches the real
    control (indistinguishable from it, or better) and on how many it leads; "no model" when
    none beats its baseline on any metric of the group. ``judge`` (:class:`Judge`) decides who
    leads (default: by overlap).
    """
    sentences = []
    for group, purpose in PURPOSES.items():
        rows = [v for v in verdict_list if v["dataset"] == dataset and v["group"] == group]
        if not rows:
            continue
        lead = leaders(rows, judge)
        tally: dict[str, dict[str, int]] = {}
        for v in rows:
            counts = tally.setdefault(
                v["model"], {"better": 0, "worse": 0, "indistinguishable": 0, "untested": 0, "ceiling": 0, "leads": 0}
            )
            counts[v["verdict"]] += 1
            counts["ceiling"] += v["control"] in ("indistinguishable", "better")
            counts["leads"] += v["model"] in lead[v["metric"]]
        gaining = [m for m in tally if tally[m]["better"]] or list(tally)
        best = max(gaining, key=lambda m: (tally[m]["leads"], tally[m]["better"], -tally[m]["worse"]))
        counts, baseline = tally[best], rows[0]["baseline"]
        n = sum(counts[k] for k in ("better", "worse", "indistinguishable", "untested"))
        if counts["better"] == 0:  # no model has any gain
            sentences.append(
                f"For {purpose}: no model beats {baseline} beyond the noise on "
                f"{'its metric' if n == 1 else f'any of the {n} metrics'}: use {baseline}, or read the intervals below."
            )
            continue
        ceiling = (
            f", and is indistinguishable from the real control on {counts['ceiling']}" if counts["ceiling"] else ""
        )
        models = f"the {len(tally)} models" if len(tally) > 1 else "one model"
        sentences.append(
            f"For {purpose}: {best} (beats {baseline} on {counts['better']} of {n} metrics, indistinguishable "
            f"on {counts['indistinguishable']}, worse on {counts['worse']}{ceiling}; best of {models}, or "
            f"indistinguishable from the best, on {counts['leads']})."
        )
    for v in verdict_list:
        if v["dataset"] == dataset and v["metric"] == "membership_inference_auroc" and v["control"] == "worse":
            sentences.append(
                f"{v['model']}: membership inference tells its training samples from held-out ones better than "
                "on the real control: its synthetic data leak who was trained on."
            )
    return sentences


def leaders(rows: list[dict], judge: Judge | None = None) -> dict[str, set[str]]:
    """Metric -> the models whose value is the best of the models' or that are not worse than the best one.

    ``rows`` are :func:`verdicts` of one dataset; "not worse" is ``judge`` (:class:`Judge`: paired
    where the two pair) or, without one, :func:`~omicsgen.evaluate.metrics.compare` of the two
    intervals, not saying ``"worse"`` against the model with the best point value (on the
    shortfall scale, so a target metric such as AATS is judged by its distance to 0.5).
    """
    by_metric: dict[str, list[dict]] = {}
    for v in rows:
        by_metric.setdefault(v["metric"], []).append(v)
    out = {}
    for metric, models in by_metric.items():
        top = min(models, key=lambda v: shortfall(metric, v["value"]))
        out[metric] = {v["model"] for v in models if v is top or _against(judge, metric, v, top) != "worse"}
    return out


def _against(judge: Judge | None, metric: str, v: dict, top: dict) -> str:
    """Verdict of one :func:`verdicts` row's model against another's: ``judge``'s, or by overlap without one."""
    if judge is None:
        return compare(metric, v["interval"], top["interval"])
    return judge(v["dataset"], metric, v["model"], top["model"])


def scorecard(metrics: pd.DataFrame, verdict_list: list[dict], dataset: str) -> dict:
    """Models, baselines and controls x ranked metrics (grouped) of one dataset, each cell coloured by its verdict.

    Returns ``{"groups": [(group, n_columns)], "columns": [metric], "rows": [{"model", "kind", "cells"}]}``
    for the template; a cell is ``{"text", "verdict", "ceiling"}`` (``verdict`` against the
    baseline, ``ceiling`` True when indistinguishable from or better than the real control).
    """
    data = metrics[metrics["dataset"] == dataset]
    present = set(data["metric"])
    columns = [m for names in GROUPS.values() for m in names if m in present and ranked(m)]
    groups = [(g, sum(m in columns for m in names)) for g, names in GROUPS.items()]
    judged = {(v["model"], v["metric"]): v for v in verdict_list if v["dataset"] == dataset}
    values = data.set_index(["model", "metric"])[["value", "low", "high"]]
    rows = []
    for model in dict.fromkeys(data["model"]):
        kind = "control" if model in CONTROLS else "baseline" if model in BASELINES else "model"
        cells = []
        for metric in columns:
            if (model, metric) not in values.index or pd.isna(values.loc[(model, metric), "value"]):
                cells.append({"text": "", "verdict": "", "ceiling": False})
                continue
            v = judged.get((model, metric))
            cells.append(
                {
                    "text": _fmt(*values.loc[(model, metric)]),
                    "verdict": v["verdict"] if v else "",
                    "ceiling": bool(v and v["control"] in ("indistinguishable", "better")),
                }
            )
        rows.append({"model": model, "kind": kind, "cells": cells})
    return {"groups": [g for g in groups if g[1]], "columns": columns, "rows": rows}


def _table(metrics: pd.DataFrame) -> dict:
    """Model x metric table of one dataset with intervals, the best value of each column marked."""
    wide = metrics.pivot(index="model", columns="metric", values="value")
    wide = wide.reindex(index=list(dict.fromkeys(metrics["model"])), columns=list(dict.fromkeys(metrics["metric"])))
    values = metrics.set_index(["model", "metric"])[["value", "low", "high"]]
    best = {}
    for metric in wide.columns:
        column = wide[metric].dropna().drop(list(CONTROLS), errors="ignore")
        if len(column) > 1 and ranked(metric):
            best[metric] = min(column.index, key=lambda model: shortfall(metric, column[model]))
    rows = [
        {
            "model": model,
            "cells": [
                {"text": "" if pd.isna(v) else _fmt(*values.loc[(model, metric)]), "best": best.get(metric) == model}
                for metric, v in row.items()
            ],
        }
        for model, row in wide.iterrows()
    ]
    return {"columns": list(wide.columns), "rows": rows}


def unresolved(
    metrics: pd.DataFrame, verdict_list: list[dict], dataset: str, judge: Judge | None = None
) -> dict[str, list[str]]:
    """Baseline -> the fidelity and utility metrics of one dataset on which the ``real`` control itself is
    indistinguishable from that baseline, and no model beats it.

    The real control is what a perfect generator would score at these sizes. Where even it
    cannot be told from the baseline, a model's "indistinguishable" verdict there says little:
    the intervals are too wide at this many held-out samples. Left out: privacy metrics (the
    baselines are meant to be private), metrics the baseline keeps by construction
    (:attr:`~omicsgen.evaluate.metrics.Metric.baseline_keeps`: it ties the real control at any
    size), and metrics on which some model beats the baseline anyway. ``judge`` (:class:`Judge`)
    compares the control with the baseline (default: ``Judge(metrics)``, by overlap).
    """
    judge = judge or Judge(metrics)
    data = metrics[metrics["dataset"] == dataset].set_index(["model", "metric"])[["value", "low", "high"]]
    beaten = {v["metric"] for v in verdict_list if v["dataset"] == dataset and v["verdict"] == "better"}
    out: dict[str, list[str]] = {}
    for metric in dict.fromkeys(data.index.get_level_values("metric")):
        if not ranked(metric) or metric in beaten or group_of(metric) not in ("fidelity", "utility"):
            continue
        baseline = METRICS[metric].baseline
        if baseline is None or METRICS[metric].baseline_keeps:
            continue
        if ("real", metric) not in data.index or (baseline, metric) not in data.index:
            continue
        if pd.isna(data.loc[("real", metric), "value"]) or pd.isna(data.loc[(baseline, metric), "value"]):
            continue
        if judge(dataset, metric, "real", baseline) == "indistinguishable":
            out.setdefault(baseline, []).append(metric)
    return out


def shortfalls(verdict_list: list[dict], dataset: str) -> dict[str, list[str]]:
    """Model -> the metrics (with their baseline) on which it is worse than its baseline beyond the noise."""
    out: dict[str, list[str]] = {}
    for v in verdict_list:
        if v["dataset"] == dataset and v["verdict"] == "worse":
            out.setdefault(v["model"], []).append(f"{v['metric']} (vs {v['baseline']})")
    return out


def augmentation_table(per_label: pd.DataFrame) -> dict:
    """Per-label recall of one dataset: real-trained once, then per model augmented and synthetic-only.

    ``per_label`` has the columns of ``results/augmentation.tsv`` for one dataset; models
    that were not evaluated on labels have no rows. Returns ``{"models", "rows"}`` for the
    template, or an empty dict when there are no rows.
    """
    if per_label.empty:
        return {}
    models = list(dict.fromkeys(per_label["model"]))
    first = per_label[per_label["model"] == models[0]].set_index("label")
    rows = []
    for label, ref in first.iterrows():
        cells = []
        for model in models:
            row = per_label[(per_label["model"] == model) & (per_label["label"] == label)].iloc[0]
            gain = row["recall_augmented"] - row["recall_real"]
            cells.append(
                {
                    "n": int(row["n_synthetic"]),
                    "augmented": f"{row['recall_augmented']:.2f}",
                    "synthetic": f"{row['recall_synthetic_only']:.2f}",
                    "gain": gain,
                }
            )
        rows.append(
            {
                "label": label,
                "n_train": int(ref["n_train"]),
                "n_test": int(ref["n_test"]),
                "rare": bool(ref["rare"]),
                "judged": bool(ref["judged"]),
                "real": f"{ref['recall_real']:.2f}",
                "cells": cells,
            }
        )
    return {"models": models, "rows": rows}


def _dataset_section(
    name: str,
    files: dict,
    metrics: pd.DataFrame,
    per_label: pd.DataFrame,
    verdict_list: list[dict],
    judge: Judge,
    ld_window: tuple[int, float],
    seed: int,
) -> dict:
    real = read_h5ad(files["preprocessed"])
    info = real.uns["omicsgen"]
    label_key = info["label_key"]
    genotypes = info["modality"] == "vcf"
    section = {
        "name": name,
        "n_obs": real.n_obs,
        "n_vars": real.n_vars,
        "info": info,
        "figures": [],
        "obs_kind": ("haplotypes" if contract.rows_per_sample(real) == 2 else "samples") if genotypes else "cells",
        "var_kind": "sites" if genotypes else "genes",
    }
    if info["modality"] == "bam":
        pileup = real.uns["bam"]["shape"] == "pileup"
        section["obs_kind"] = "windows" if pileup else "rows (files, read groups or barcodes)"
        section["var_kind"] = "features (position x channel)" if pileup else "bins"
    section["phased_by"] = []  # models trained on haplotypes drawn from the HMM (phase: hmm)
    if files.get("training"):
        runs = {m: json.loads(Path(p).read_text()) for m, p in files["training"].items()}
        histories = {m: pd.read_csv(p) for m, p in files["history"].items()}
        curves = {m: (histories[m], runs[m]["curves"]["columns"], runs[m]["curves"]["ylabel"]) for m in histories}
        section["figures"].append(("Training curves", plots.training_curves(curves)))
        section["budgets"] = {m: budget_text(run) for m, run in runs.items()}
        section["phased_by"] = sorted(m for m, run in runs.items() if "phased" in run)
    vcf = real.uns.get("vcf", {})
    section["unphased"] = bool(vcf.get("unphased"))  # encoding auto read dosages for want of phase
    section["beagle_can_phase"] = vcf.get("format") == "vcf"  # phase: beagle takes VCF or BCF input
    section["no_encoder"] = sorted(set(files.get("synthetic", {})) - set(files.get("latent", {})) - BASELINES)
    if files.get("latent") and label_key:
        umaps, labels = {}, None
        for model, path in files["latent"].items():
            latent = read_h5ad(path)
            umaps[f"{model} latent (UMAP)"] = latent.obsm[f"{latent.uns['omicsgen']['latent_key']}_umap"]
            labels = latent.obs[label_key].astype(str).to_numpy()
        section["figures"].append(
            (f"Latent UMAP coloured by {label_key}", plots.embedding_scatter(umaps, labels, label_key))
        )
    if files.get("synthetic"):
        expression = metric_scale(real.X, info["encoding"])
        pca = PCA(n_components=2, random_state=0).fit(expression)
        test = real.obs["split"].to_numpy() == "test"
        synthetic_data = {model: read_h5ad(path) for model, path in files["synthetic"].items()}
        synthetic_x = {model: data.X for model, data in synthetic_data.items()}
        section["samplers"] = {
            model: data.uns["omicsgen"]["synthetic_method"] for model, data in synthetic_data.items()
        }
        scaled = {model: metric_scale(x, info["encoding"]) for model, x in synthetic_x.items()}
        section["figures"].append(
            (
                f"Real (held-out) vs synthetic {section['obs_kind']} on the PCA of the real data",
                plots.real_vs_synthetic_pca(
                    pca.transform(expression[test]), {f"{m} synthetic": pca.transform(x) for m, x in scaled.items()}
                ),
            )
        )
        if contract.is_cell_counts(real):
            test_labels = contract.obs_labels(real)[test]
            section["figures"].append(
                (
                    "Zeros per gene, synthetic vs real (held-out): the genes named are furthest from the diagonal",
                    plots.zero_fraction_scatter(
                        {
                            m: matched_zero_fractions(
                                expression[test], x, test_labels, contract.obs_labels(synthetic_data[m])
                            )
                            for m, x in scaled.items()
                        },
                        real.var_names.to_numpy(),
                    ),
                )
            )
        if info["modality"] == "bam":
            section["figures"].append(
                (
                    "Depth profile, real vs synthetic",
                    alignment_plots.depth_profiles(
                        dense(real.X[test]), {m: dense(x) for m, x in synthetic_x.items()}, real.uns["bam"]
                    ),
                )
            )
        if genotypes:
            section["figures"].extend(_genotype_figures(real, expression[test], scaled, metrics, name, ld_window, seed))
    section["table"] = _table(metrics[metrics["dataset"] == name])
    section["scorecard"] = scorecard(metrics, verdict_list, name)
    section["recommendations"] = recommendations(verdict_list, name, judge)
    section["verdicts"] = [v for v in verdict_list if v["dataset"] == name]
    section["shortfalls"] = shortfalls(verdict_list, name)
    section["unresolved"] = unresolved(metrics, verdict_list, name, judge)
    section["augmentation"] = augmentation_table(per_label[per_label["dataset"] == name])
    return section


def _genotype_figures(
    real, real_test, synthetic: dict, metrics: pd.DataFrame, name: str, ld_window: tuple[int, float], seed: int
) -> list[tuple[str, str]]:
    """The genotype section: allele frequencies, LD, pairwise distances and privacy (allele counts in, per model)."""
    ploidy = contract.alleles_per_row(real)
    pos = real.var["pos"].to_numpy()
    i, j = ld_pairs(real.var["chrom"].to_numpy(), pos, ld_window[0], int(ld_window[1] * 1000))
    return [
        (
            "Allele frequencies, synthetic vs real",
            genotype_plots.allele_frequency_scatter(real_test, synthetic, ploidy),
        ),
        ("LD (r2) heatmaps, real vs synthetic", genotype_plots.ld_heatmaps(real_test, synthetic)),
        ("LD decay", genotype_plots.ld_decay_curves(real_test, synthetic, pos, i, j, seed)),
        ("Pairwise-distance distributions", genotype_plots.pairwise_distance_histograms(real_test, synthetic)),
        (
            "AATS, privacy loss and membership inference",
            genotype_plots.privacy_bars(metrics[metrics["dataset"] == name]),
        ),
    ]


def build_report(
    metrics: pd.DataFrame,
    per_label: pd.DataFrame,
    datasets: dict[str, dict],
    out: str | Path,
    settings: dict,
    seed: int = 0,
    comparisons: pd.DataFrame | None = None,
) -> None:
    """Write a self-contained HTML report (images embedded as base64 PNG).

    Parameters
    ----------
    metrics
        Tidy metrics table (``dataset, model, metric, value``).
    per_label
        The augmentation experiment per label (``results/augmentation.tsv``).
    datasets
        Dataset name -> ``{"preprocessed": path, "history": {model: csv}, "training": {model: json},
        "latent": {model: h5ad}, "synthetic": {model: h5ad}}``.
    out
        Destination ``.html``; written atomically.
    settings
        The evaluation's config (``evaluate``): ``knn_k``, ``rare_fraction``, ``min_label_test``,
        ``ld_window_sites``, ``ld_window_kb``, ``max_cells``, ``n_bootstrap`` name the metrics'
        settings in the report.
    seed
        The run's seed (the LD-decay band's resamples).
    comparisons
        The paired comparisons (``results/comparisons.tsv``) the verdicts use (:class:`Judge`);
        None: every verdict by the overlap of intervals.
    """
    ld_window = (settings["ld_window_sites"], settings["ld_window_kb"])
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("omicsgen", "report/templates"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    judge = Judge(metrics, comparisons)
    verdict_list = verdicts(metrics, comparisons)
    html = env.get_template("report.html.j2").render(
        version=__version__,
        created=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        sections=[
            _dataset_section(name, files, metrics, per_label, verdict_list, judge, ld_window, seed)
            for name, files in datasets.items()
        ],
        settings=settings,
        sources={name: describe(name, settings) for name in METRICS},
    )
    write_text(html, out)
