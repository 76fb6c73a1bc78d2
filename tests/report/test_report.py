import pandas as pd

from omicsgen.report import verdicts


def test_verdicts_say_where_a_model_loses():
    metrics = pd.DataFrame(
        [
            ("d", "vae", "knn_accuracy", 0.8),
            ("d", "pca", "knn_accuracy", 0.7),
            ("d", "vae", "detection_auroc", 0.9),
            ("d", "marginals", "detection_auroc", 0.6),
            ("d", "vae", "mmd", 0.1),
            ("d", "marginals", "mmd", 0.2),
            ("d", "vae", "n_identical_to_train", 0.0),
            ("d", "marginals", "n_identical_to_train", 0.0),
        ],
        columns=["dataset", "model", "metric", "value"],
    )
    lines = {v["metric"]: v for v in verdicts(metrics)}
    assert lines["knn_accuracy"]["beats"] and "vae beats pca on knn_accuracy" in lines["knn_accuracy"]["text"]
    assert not lines["detection_auroc"]["beats"]
    assert (
        "does NOT beat marginals on detection_auroc (0.900 vs 0.600; closer to 0.5 is better)"
        in lines["detection_auroc"]["text"]
    )
    assert lines["mmd"]["beats"]
    tie = lines["n_identical_to_train"]
    assert not tie["beats"] and "vae ties with marginals on n_identical_to_train" in tie["text"]
    assert len(lines) == 4  # baselines are not compared with themselves
