import numpy as np
import pandas as pd

from omicsgen.evaluate.metrics import compare
from omicsgen.report import verdicts
from omicsgen.report.build import Judge, recommendations, scorecard, unresolved


def _metrics():
    return pd.DataFrame(
        [
            ("d", "vae", "knn_accuracy", 0.8, 0.75, 0.85),
            ("d", "pca", "knn_accuracy", 0.7, 0.65, 0.74),
            ("d", "vae", "detection_auroc", 0.9, 0.85, 0.95),
            ("d", "marginals", "detection_auroc", 0.6, 0.55, 0.65),
            ("d", "real", "detection_auroc", 0.5, 0.42, 0.58),
            ("d", "vae", "mmd", 0.1, 0.05, 0.15),
            ("d", "marginals", "mmd", 0.12, 0.08, 0.2),
            ("d", "real", "mmd", 0.0, -0.01, 0.01),
            ("d", "vae", "n_identical_to_train", 0.0, 0.0, 0.0),
            ("d", "marginals", "n_identical_to_train", 0.0, 0.0, 0.0),
            ("d", "vae", "aats", 0.45, 0.41, 0.49),
            ("d", "marginals", "aats", 0.58, 0.53, 0.62),
            ("d", "real", "aats", 0.5, 0.45, 0.55),
        ],
        columns=["dataset", "model", "metric", "value", "low", "high"],
    )


def test_verdicts_come_from_intervals():
    lines = {v["metric"]: v for v in verdicts(_metrics())}
    assert (
        lines["knn_accuracy"]["verdict"] == "better"
        and "vae beats pca on knn_accuracy" in lines["knn_accuracy"]["text"]
    )
    assert lines["detection_auroc"]["verdict"] == "worse"
    assert (
        "vae does NOT beat marginals on detection_auroc (0.900 [0.850, 0.950] vs 0.600 [0.550, 0.650]; "
        "closer to 0.5 is better)" in lines["detection_auroc"]["text"]
    )
    # a lower point value is no gain when the intervals overlap
    assert (
        lines["mmd"]["verdict"] == "indistinguishable" and "is indistinguishable from marginals" in lines["mmd"]["text"]
    )
    assert lines["n_identical_to_train"]["verdict"] == "indistinguishable"
    # on a target metric the intervals are compared by their distance to the target: 0.41-0.49 vs 0.53-0.62
    assert lines["aats"]["verdict"] == "indistinguishable"
    assert lines["aats"]["control"] == "indistinguishable" and lines["detection_auroc"]["control"] == "worse"
    assert len(lines) == 5  # baselines and controls are not judged


def test_scorecard_and_recommendations():
    metrics = _metrics()
    verdict_list = verdicts(metrics)
    card = scorecard(metrics, verdict_list, "d")
    assert [g for g, _ in card["groups"]] == ["latent", "fidelity", "privacy"]
    assert card["columns"] == ["knn_accuracy", "mmd", "detection_auroc", "aats", "n_identical_to_train"]
    rows = {r["model"]: r for r in card["rows"]}
    assert rows["real"]["kind"] == "control" and rows["pca"]["kind"] == "baseline"
    vae = dict(zip(card["columns"], rows["vae"]["cells"]))
    assert vae["knn_accuracy"]["verdict"] == "better" and vae["detection_auroc"]["verdict"] == "worse"
    assert vae["aats"]["ceiling"] and not vae["detection_auroc"]["ceiling"]
    assert vae["mmd"]["text"] == "0.100 [0.050, 0.150]"
    text = recommendations(verdict_list, "d")
    assert any(t.startswith("For an embedding of real data (latent metrics): vae (beats pca on 1 of 1") for t in text)
    assert any("no model beats marginals beyond the noise on any of the 2 metrics: use marginals" in t for t in text)


def test_unresolved_where_the_real_control_ties_the_baseline():
    # detection AUROC: real 0.42-0.58 and marginals 0.55-0.65 overlap on the distance to 0.5, and no model
    # beats marginals there; MMD: real is better than marginals; aats is a privacy metric
    metrics = _metrics()
    assert unresolved(metrics, verdicts(metrics), "d") == {"marginals": ["detection_auroc"]}
    tighter = metrics.copy()
    tighter.loc[(tighter["model"] == "real") & (tighter["metric"] == "detection_auroc"), ["low", "high"]] = [0.48, 0.52]
    assert unresolved(tighter, verdicts(tighter), "d") == {}
    # a model that beats marginals anyway: the metric is resolved
    beaten = metrics.copy()
    beaten.loc[(beaten["model"] == "vae") & (beaten["metric"] == "detection_auroc"), ["value", "low", "high"]] = [
        0.5,
        0.49,
        0.51,
    ]
    assert unresolved(beaten, verdicts(beaten), "d") == {}
    # a metric marginals keep by construction (per-gene means) ties the real control at any size: not listed
    kept = pd.concat(
        [
            metrics,
            pd.DataFrame(
                [
                    ("d", "marginals", "mean_correlation", 0.9, 0.85, 0.95),
                    ("d", "real", "mean_correlation", 0.9, 0.86, 0.94),
                ],
                columns=metrics.columns,
            ),
        ]
    )
    assert unresolved(kept, verdicts(kept), "d") == {"marginals": ["detection_auroc"]}
    assert unresolved(metrics, verdicts(metrics), "other") == {}


def test_no_intervals_no_verdict():
    metrics = _metrics().assign(low=np.nan, high=np.nan)
    assert {v["verdict"] for v in verdicts(metrics)} == {"untested", "indistinguishable"}


def test_recommendation_weighs_how_far_a_model_leads():
    # ae beats marginals on all three metrics by a little; ar beats it on two, one by far (LD), and
    # is indistinguishable from ae on the others: ar leads on every metric, ae on two
    metrics = pd.DataFrame(
        [
            ("g", "ae", "ld_correlation", 0.14, 0.10, 0.17),
            ("g", "ar", "ld_correlation", 0.79, 0.75, 0.83),
            ("g", "marginals", "ld_correlation", 0.0, -0.03, 0.03),
            ("g", "ae", "detection_auroc", 0.575, 0.55, 0.60),
            ("g", "ar", "detection_auroc", 0.62, 0.46, 0.72),
            ("g", "marginals", "detection_auroc", 0.75, 0.62, 0.85),
            ("g", "ae", "pca_wasserstein", 1.25, 1.0, 1.5),
            ("g", "ar", "pca_wasserstein", 1.27, 0.8, 1.97),
            ("g", "marginals", "pca_wasserstein", 2.65, 2.2, 3.38),
        ],
        columns=["dataset", "model", "metric", "value", "low", "high"],
    )
    verdict_list = verdicts(metrics)
    assert sum(v["beats"] for v in verdict_list if v["model"] == "ae") == 3
    assert sum(v["beats"] for v in verdict_list if v["model"] == "ar") == 2
    (fidelity,) = [t for t in recommendations(verdict_list, "g") if t.startswith("For synthetic data that look")]
    assert fidelity.startswith("For synthetic data that look like the real ones (fidelity): ar (beats marginals on 2")
    assert fidelity.endswith("best of the 2 models, or indistinguishable from the best, on 3).")


def test_paired_comparisons_decide_where_models_pair():
    # vae and marginals overlap on mmd (0.05-0.15 vs 0.08-0.20), but on shared resamples the difference
    # excludes 0; the real control did not pair with vae here (no row): its verdict stays by overlap
    metrics = _metrics()
    comparisons = pd.DataFrame(
        [
            ("d", "vae", "marginals", "mmd", -0.02, -0.035, -0.005, "better"),
            ("d", "marginals", "vae", "mmd", 0.02, 0.005, 0.035, "worse"),
            ("d", "real", "marginals", "detection_auroc", -0.1, -0.15, -0.05, "better"),
            # too few replicates finite in both: the verdict falls back to the intervals
            ("d", "vae", "pca", "knn_accuracy", 0.1, float("nan"), float("nan"), "untested"),
        ],
        columns=["dataset", "model", "other", "metric", "difference", "low", "high", "verdict"],
    )
    lines = {v["metric"]: v for v in verdicts(metrics, comparisons)}
    assert lines["mmd"]["verdict"] == "better"
    assert (
        "(0.100 [0.050, 0.150] vs 0.120 [0.080, 0.200]; paired difference in distance to 0 -0.020 [-0.035, -0.005]"
        in (lines["mmd"]["text"])
    )
    assert lines["mmd"]["control"] == compare("mmd", (0.1, 0.05, 0.15), (0.0, -0.01, 0.01)) == "worse"
    assert lines["detection_auroc"]["verdict"] == "worse"  # no paired row: by overlap
    assert lines["knn_accuracy"]["verdict"] == "better"  # 0.75-0.85 vs 0.65-0.74
    # the real control beats marginals on detection AUROC once paired: no longer listed as unresolved
    judge = Judge(metrics, comparisons)
    assert unresolved(metrics, verdicts(metrics, comparisons), "d", judge) == {}
    assert unresolved(metrics, verdicts(metrics), "d") == {"marginals": ["detection_auroc"]}
