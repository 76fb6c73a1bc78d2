# Helpers shared by the rules: config validation, wildcard constraints, input functions
# and params built from the config. No rule reads the config any other way.
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("9.0")


def _config_error(err):
    """One line naming the config key and what is wrong, from Snakemake's schema error."""
    cause = err.__context__  # the jsonschema ValidationError Snakemake caught
    if not hasattr(cause, "absolute_path"):
        return str(err)
    key = ".".join(str(p) for p in cause.absolute_path) or "(top level)"
    return f"config key '{key}': {cause.message}; see config/README.md"


try:
    validate(config, "../schemas/config.schema.yaml")
except WorkflowError as err:
    raise WorkflowError(_config_error(err)) from None

DATASETS = config["datasets"]
DEMO_FILES = {"resources/pbmc68k/pbmc68k_reduced_counts.h5ad"}
GENERATORS = {"vae", "marginals"}  # produce synthetic.h5ad
ENCODERS = {"vae", "pca"}  # produce latent.h5ad
TORCH_MODELS = {"vae"}  # trained with Lightning

for _name, _entry in DATASETS.items():
    if _entry["path"] not in DEMO_FILES and not Path(_entry["path"]).exists():
        raise WorkflowError(
            f"config key 'datasets.{_name}.path': file '{_entry['path']}' not found; "
            "point it at an existing .h5ad"
        )

ALL_MODELS = list(config["models"]) + list(config["baselines"])


wildcard_constraints:
    dataset="|".join(DATASETS),
    model="|".join(ALL_MODELS),


def model_params(model):
    """A model's config section with sorted keys: Snakemake compares params by their text,
    so key order in the config file must not trigger reruns."""
    return dict(sorted(config[model].items()))


def dataset_input(wildcards):
    return DATASETS[wildcards.dataset]["path"]


def preprocess_params(wildcards):
    entry = DATASETS[wildcards.dataset]
    return {
        "layer": entry["layer"],
        "label_key": entry["label"],
        "n_top_genes": entry["n_top_genes"],
        "likelihood": entry["likelihood"],
        "val_fraction": config["split"]["val_fraction"],
        "test_fraction": config["split"]["test_fraction"],
        "seed": config["seed"],
    }


def evaluate_input(wildcards):
    files = {"real": f"results/{wildcards.dataset}/preprocessed.h5ad"}
    if wildcards.model in ENCODERS:
        files["latent"] = f"results/{wildcards.dataset}/{wildcards.model}/latent.h5ad"
    if wildcards.model in GENERATORS:
        files["synthetic"] = f"results/{wildcards.dataset}/{wildcards.model}/synthetic.h5ad"
    return files


def model_metrics():
    return expand("results/{dataset}/{model}/metrics.tsv", dataset=DATASETS, model=ALL_MODELS)


def report_layout():
    """Dataset -> files the report reads, by kind and model."""
    layout = {}
    for dataset in DATASETS:
        base = f"results/{dataset}"
        layout[dataset] = {
            "preprocessed": f"{base}/preprocessed.h5ad",
            "history": {m: f"{base}/{m}/history.csv" for m in ALL_MODELS if m in TORCH_MODELS},
            "latent": {m: f"{base}/{m}/latent.h5ad" for m in ALL_MODELS if m in ENCODERS},
            "synthetic": {m: f"{base}/{m}/synthetic.h5ad" for m in ALL_MODELS if m in GENERATORS},
        }
    return layout


def report_files(wildcards):
    files = []
    for entry in report_layout().values():
        files.append(entry["preprocessed"])
        for kind in ("history", "latent", "synthetic"):
            files.extend(entry[kind].values())
    return files
