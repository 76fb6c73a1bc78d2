"""Assemble ``report.html`` from the workflow's outputs."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import jinja2
import pandas as pd
from sklearn.decomposition import PCA

from omicsgen import __version__, contract
from omicsgen.evaluate.metrics import BASELINES, METRICS, better, describe, direction, ranked, shortfall
from omicsgen.evaluate.popgen import ld_pairs
from omicsgen.io import dense, read_h5ad, write_text
from omicsgen.preprocess import metric_scale
from omicsgen.report import alignment_plots, genotype_plots, plots


def budget_text(run: dict) -> str:
    """One phrase on a model's training budget and how it ended, from its ``training.json``.

    Examples: ``"67 of 400 epochs (auto budget for 488 training observations), ended by early
    stopping"``; ``"640 of 640 generator steps in 400 epochs (auto budget for 488 training
    observations)"``.
    """
    budget = run["budget"]
    rule = f"{budget['rule']} budget for {run['n_train']} training observations"
    if "generator_steps" in budget:
        steps = f"{run['generator_steps_run']} of {budget['generator_steps']} generator steps"
        return f"{steps} in {run['epochs_run']} epochs ({rule})"
    return f"{run['epochs_run']} of {budget['max_epochs']} epochs ({rule}), ended by {run['stopped_by']}"


def verdicts(metrics: pd.DataFrame) -> list[dict]:
    """Compare every model with its baseline on every metric, in plain words.

    Parameters
    ----------
    metrics
        Tidy table with columns ``dataset, model, metric, value``.

    Returns
    -------
    list of dict
        ``{"dataset", "model", "metric", "baseline", "value", "baseline_value", "beats", "text"}``
        per comparison; ``beats`` is False on ties and NaN.
    """
    out = []
    table = metrics.set_index(["dataset", "model", "metric"])["value"]
    for (dataset, model, metric), value in table.items():
        baseline = METRICS[metric].baseline if metric in METRICS else None
        if model in BASELINES or baseline is None or (dataset, baseline, metric) not in table.index:
            continue
        reference = table[(dataset, baseline, metric)]
        if pd.isna(value) or pd.isna(reference):  # undefined here (e.g. no rare label to augment)
            continue
        beats = better(metric, value, reference)
        word = "beats" if beats else "ties with" if value == reference else "does NOT beat"
        out.append(
            {
                "dataset": dataset,
                "model": model,
                "metric": metric,
                "baseline": baseline,
                "value": value,
                "baseline_value": reference,
                "beats": beats,
                "text": f"{dataset}: {model} {word} {baseline} on {metric} "
                f"({value:.3f} vs {reference:.3f}; {direction(metric)} is better)",
            }
        )
    return out


def _table(metrics: pd.DataFrame) -> dict:
    """Model x metric table of one dataset, with the best value of each column marked."""
    wide = metrics.pivot(index="model", columns="metric", values="value")
    wide = wide.reindex(index=list(dict.fromkeys(metrics["model"])), columns=list(dict.fromkeys(metrics["metric"])))
    best = {}
    for metric in wide.columns:
        column = wide[metric].dropna()
        if len(column) > 1 and ranked(metric):
            best[metric] = min(column.index, key=lambda model: shortfall(metric, column[model]))
    rows = [
        {
            "model": model,
            "cells": [
                {"text": "" if pd.isna(v) else f"{v:.3f}", "best": best.get(metric) == model}
                for metric, v in row.items()
            ],
        }
        for model, row in wide.iterrows()
    ]
    return {"columns": list(wide.columns), "rows": rows}


def shortfalls(verdict_list: list[dict], dataset: str) -> dict[str, list[str]]:
    """Model -> the metrics (with their baseline) on which it does not beat its baseline, for one dataset."""
    out: dict[str, list[str]] = {}
    for v in verdict_list:
        if v["dataset"] == dataset and not v["beats"]:
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
    ld_window: tuple[int, float],
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
    if files.get("training"):
        runs = {m: json.loads(Path(p).read_text()) for m, p in files["training"].items()}
        histories = {m: pd.read_csv(p) for m, p in files["history"].items()}
        curves = {m: (histories[m], runs[m]["curves"]["columns"], runs[m]["curves"]["ylabel"]) for m in histories}
        section["figures"].append(("Training curves", plots.training_curves(curves)))
        section["budgets"] = {m: budget_text(run) for m, run in runs.items()}
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
            section["figures"].extend(_genotype_figures(real, expression[test], scaled, metrics, name, ld_window))
    section["table"] = _table(metrics[metrics["dataset"] == name])
    section["shortfalls"] = shortfalls(verdict_list, name)
    section["augmentation"] = augmentation_table(per_label[per_label["dataset"] == name])
    return section


def _genotype_figures(
    real, real_test, synthetic: dict, metrics: pd.DataFrame, name: str, ld_window: tuple[int, float]
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
        ("LD decay", genotype_plots.ld_decay_curves(real_test, synthetic, pos, i, j)),
        ("Pairwise-distance distributions", genotype_plots.pairwise_distance_histograms(real_test, synthetic)),
        ("AATS and privacy loss", genotype_plots.privacy_bars(metrics[metrics["dataset"] == name])),
    ]


def build_report(
    metrics: pd.DataFrame, per_label: pd.DataFrame, datasets: dict[str, dict], out: str | Path, settings: dict
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
        The evaluation's config (``evaluate``): ``knn_k``, ``rare_fraction``, ``ld_window_sites``,
        ``ld_window_kb`` name the metrics' settings in the report.
    """
    ld_window = (settings["ld_window_sites"], settings["ld_window_kb"])
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("omicsgen", "report/templates"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    verdict_list = verdicts(metrics)
    html = env.get_template("report.html.j2").render(
        version=__version__,
        created=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        sections=[
            _dataset_section(name, files, metrics, per_label, verdict_list, ld_window)
            for name, files in datasets.items()
        ],
        verdicts=verdict_list,
        sources={name: describe(name, settings) for name in METRICS},
    )
    write_text(html, out)
