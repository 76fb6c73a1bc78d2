# Helpers shared by the rules: config validation, wildcard constraints, input functions
# and params built from the config. No rule reads the config any other way.
import sys
from pathlib import Path

# the library's registry of models, importable without an install (conda users run the
# workflow from a Snakemake that does not have omicsgen; their jobs find it through scripts/)
sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from omicsgen import registry
from omicsgen.genotypes import genotype_format
from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("9.0")


def _config_error(err):
    """One line naming the config key and what is wrong, from Snakemake's schema error."""
    cause = err.__context__  # the jsonschema ValidationError Snakemake caught
    if not hasattr(cause, "absolute_path"):
        return str(err)
    key = ".".join(str(p) for p in cause.absolute_path) or "(top level)"
    # a value allowed in several forms (oneOf: an integer or "auto"): what each form expected
    message = " or ".join(sub.message for sub in cause.context) if cause.context else cause.message
    return f"config key '{key}': {message}; see config/README.md"


# Datasets given on the command line (--configfile, --config) replace the demo datasets of
# config/config.yaml instead of being merged into them, as Snakemake merges mappings key by key:
# a user's config that names only their dataset runs only it. Other sections still merge.
if "datasets" in workflow.config_settings.overwrite_config:
    config["datasets"] = workflow.config_settings.overwrite_config["datasets"]

try:
    validate(config, "../schemas/config.schema.yaml")
except WorkflowError as err:
    raise WorkflowError(_config_error(err)) from None


# Keys of each modality with their defaults, from the schema (x-modality, x-default); a key of
# another modality is an error.
def _modality_defaults(schema_path):
    import yaml

    schema = yaml.safe_load(Path(schema_path).read_text())
    keys = schema["properties"]["datasets"]["additionalProperties"]["properties"]
    defaults = {modality: {} for modality in keys["modality"]["enum"]}
    for key, spec in keys.items():
        for modality in spec.get("x-modality", []):
            defaults[modality][key] = spec["x-default"]
    return defaults


MODALITY_DEFAULTS = _modality_defaults(workflow.source_path("../schemas/config.schema.yaml"))
SIMULATED_PANEL = {"vcf": "results/simulated/ooa3.vcf.gz", "sample_sheet": "results/simulated/ooa3.samples.tsv"}
# inputs that rules of this workflow build (no need to exist before the run)
DEMO_FILES = {"resources/pbmc68k/pbmc68k_reduced_counts.h5ad", *SIMULATED_PANEL.values()}
GENERATORS = set(registry.names(generator=True))  # produce synthetic.h5ad
ENCODERS = set(registry.names(encoder=True))  # produce latent.h5ad (the GAN has no encoder)
TORCH_MODELS = set(registry.names(trained=True))  # trained with Lightning


def _dataset_entries(datasets):
    """Each dataset's entry with its modality's defaults filled in, checked for stray keys and files."""
    entries = {}
    for name, entry in datasets.items():
        modality = entry["modality"]
        for other, keys in MODALITY_DEFAULTS.items():
            stray = sorted(set(entry) & set(keys) - set(MODALITY_DEFAULTS[modality]))
            if other != modality and stray:
                raise WorkflowError(
                    f"config key 'datasets.{name}.{stray[0]}': applies to modality '{other}', "
                    f"not '{modality}'; see config/README.md"
                )
        entry = {**MODALITY_DEFAULTS[modality], **entry}
        for key in ("path", "sample_sheet", "reference", "bed"):
            path = entry.get(key)
            if path is not None and path not in DEMO_FILES and not Path(path).exists():
                filesets = [f"{path}{ext}" for ext in (".bed", ".pgen") if Path(f"{path}{ext}").exists()]
                hint = f" (a PLINK prefix? name the file: '{filesets[0]}')" if filesets else ""
                raise WorkflowError(
                    f"config key 'datasets.{name}.{key}': file '{path}' not found{hint}; point it at an existing file"
                )
        if modality == "vcf" and entry["label"] is not None and entry["sample_sheet"] is None:
            raise WorkflowError(
                f"config key 'datasets.{name}.label': a vcf dataset reads labels from its sample_sheet; set sample_sheet"
            )
        if modality == "vcf" and entry["phase"] != "none" and genotype_format(entry["path"]) != "vcf":
            raise WorkflowError(
                f"config key 'datasets.{name}.phase': Beagle phases VCF or BCF files; convert "
                f"'{entry['path']}' to VCF (plink2 --export vcf bgz) or set phase: none"
            )
        if modality == "vcf" and entry["phase"] != "none" and entry["encoding"] == "dosage":
            raise WorkflowError(
                f"config key 'datasets.{name}.phase': phasing makes haplotypes that encoding: dosage would sum "
                "again; set encoding: auto (or haplotype), or phase: none"
            )
        if modality == "bam" and entry["label"] is not None and not entry["path"].endswith((".tsv", ".txt")):
            raise WorkflowError(
                f"config key 'datasets.{name}.label': a bam dataset reads labels from a sample sheet; "
                "point 'path' at a TSV with columns sample, path and the label column"
            )
        if modality == "bam" and entry["shape"] == "pileup" and entry["reference"] is None:
            raise WorkflowError(f"config key 'datasets.{name}.reference': pileup windows need the reference FASTA")
        entries[name] = entry
    return entries


DATASETS = _dataset_entries(config["datasets"])
VCF_DATASETS = [name for name, entry in DATASETS.items() if entry["modality"] == "vcf"]
H5AD_DATASETS = [name for name, entry in DATASETS.items() if entry["modality"] == "h5ad"]
BAM_DATASETS = [name for name, entry in DATASETS.items() if entry["modality"] == "bam"]
PHASED_DATASETS = [name for name in VCF_DATASETS if DATASETS[name]["phase"] != "none"]  # phased by the workflow


def _alternatives(names):
    """Regex matching exactly the given names (none: matches nothing)."""
    return "|".join(names) if names else "(?!)"


ALL_MODELS = list(config["models"]) + list(config["baselines"])
TRAINED_MODELS = list(config["models"])


def phased_by_hmm(dataset):
    """Whether ``ar`` on the dataset trains on haplotypes drawn from its HMM (``ar.phase: hmm``): genotypes
    that may be unphased (``encoding`` not ``haplotype``, no ``phase`` step). With ``encoding: auto`` the
    HMM is fitted even where the VCF turns out phased, and then not used."""
    entry = DATASETS[dataset]
    return (
        config["ar"]["phase"] == "hmm"
        and entry["modality"] == "vcf"
        and entry["encoding"] != "haplotype"
        and entry["phase"] == "none"
    )


# checkpoints trained because a listed model needs them as input: the latent GAN plays in the AE's
# code space, and ar with phase: hmm trains on haplotypes drawn from the HMM (then trained, not
# evaluated or reported unless listed)
TRAINED_AS_INPUT = [
    name
    for name, needed in (
        ("ae", "gan" in TRAINED_MODELS and config["gan"]["space"] == "latent"),
        ("hmm", "ar" in TRAINED_MODELS and any(phased_by_hmm(d) for d in VCF_DATASETS)),
    )
    if needed and name not in TRAINED_MODELS
]
TRAINED_ENCODERS = [m for m in TRAINED_MODELS if m in ENCODERS]
# the evaluation's real and copy controls, wherever a generator is evaluated
CONTROLS = list(registry.CONTROLS) if any(m in GENERATORS for m in ALL_MODELS) else []


def dataset_models(dataset):
    """The configured models that run on the dataset's modality (ar and hmm: genotypes only)."""
    return [m for m in ALL_MODELS if registry.runs_on(m, DATASETS[dataset]["modality"])]


def dataset_generators(dataset):
    """The dataset's models that write synthetic data."""
    return [m for m in dataset_models(dataset) if m in GENERATORS]


wildcard_constraints:
    dataset=_alternatives(DATASETS),
    model="|".join(ALL_MODELS + CONTROLS),


# Resource requests from the data (Snakemake resource callables), so that a cluster job asks for
# what it needs: memory and run time grow with the job's input files, and each retry
# (--retries) asks for that much more again. Threads: 1 for a dataset whose input file is under
# THREADED_FROM_MB (small models gain little from a second thread, and jobs then run side by
# side), else resources.threads. Threads cannot wait for inputs built during the run, so they
# follow the dataset's input file; memory and time follow the job's actual inputs.
THREADED_FROM_MB = 50


def mem_mb(base_mb, per_input_mb):
    """``mem_mb`` callable: ``(base_mb + per_input_mb x input MB) x attempt``, at most ``resources.max_mem_mb``."""
    cap = config["resources"]["max_mem_mb"]
    return lambda wildcards, input, attempt: min(cap, int((base_mb + per_input_mb * input.size_mb) * attempt))


def runtime(base_min, per_input_gb_min, cap_min=None):
    """``runtime`` callable (minutes): ``(base_min + per_input_gb_min x input GB) x attempt``, at most ``cap_min``
    before the attempt factor (training budgets stop growing with the data above 20,000 cells)."""

    def minutes(wildcards, input, attempt):
        estimate = base_min + per_input_gb_min * input.size_mb / 1024
        return int((estimate if cap_min is None else min(estimate, cap_min)) * attempt)

    return minutes


def train_resource(index, file_size_rule):
    """``mem_mb`` (index 0) or ``runtime`` (1) callable of a training job: from the preprocessed
    matrix's shape, the job's threads and the model's config section for a family whose cost grows
    with the genotypes (``registry.training_resources``: ar, hmm), else ``file_size_rule``; times
    the attempt (memory capped at ``resources.max_mem_mb``). The shape is read with h5py; where
    Snakemake runs without it (conda users' Snakemake), or before the input exists (a dry run),
    the file-size rule answers."""

    def request(wildcards, input, threads, attempt):
        path = Path(input.input)
        if registry.MODELS[wildcards.model].minutes_per_gib is None or not path.exists():
            return file_size_rule(wildcards, input, attempt)
        try:
            import h5py

            with h5py.File(path, "r") as handle:
                matrix = handle["X"]  # a dense dataset, or a sparse group with its shape
                n_obs, n_vars = matrix.shape if isinstance(matrix, h5py.Dataset) else matrix.attrs["shape"]
        except (ImportError, OSError, KeyError):
            return file_size_rule(wildcards, input, attempt)
        params = config[wildcards.model]
        if wildcards.model == "ar" and not phased_by_hmm(wildcards.dataset):  # modelled as read: no draws
            params = {**params, "phase": "none"}
        mem, minutes = registry.training_resources(wildcards.model, int(n_obs), int(n_vars), threads, params)
        return min(mem * attempt, config["resources"]["max_mem_mb"]) if index == 0 else minutes * attempt

    return request


def dataset_threads(wildcards):
    """Threads of a dataset's compute-heavy jobs (training, latent, evaluation), from the size of its
    input file (a BAM sample sheet: of the files it lists)."""
    entry = DATASETS[wildcards.dataset]
    paths = bam_input(wildcards).get("listed", []) if entry["modality"] == "bam" else []
    paths = [Path(p) for p in paths or [entry["path"]]]
    size_mb = sum(p.stat().st_size for p in paths if p.exists()) / 2**20
    return 1 if size_mb < THREADED_FROM_MB else config["resources"]["threads"]


def trained_model_params(wildcards):
    """The model's config section with sorted keys: Snakemake compares params by their text,
    so key order in the config file must not trigger reruns."""
    return dict(sorted(config[wildcards.model].items()))


def train_inputs(wildcards):
    """The preprocessed data; the AE's checkpoint for a model that plays in its code space (``space: latent``),
    the HMM's for ``ar`` on data it phases (:func:`phased_by_hmm`)."""
    files = {"input": f"results/{wildcards.dataset}/preprocessed.h5ad"}
    if config[wildcards.model].get("space") == "latent":
        files["autoencoder"] = f"results/{wildcards.dataset}/ae/model.ckpt"
    if wildcards.model == "ar" and phased_by_hmm(wildcards.dataset):
        files["phaser"] = f"results/{wildcards.dataset}/hmm/model.ckpt"
    return files


def pca_components():
    """PCA baseline dimensions: the latent size of the encoder models it is compared with."""
    sizes = {config[m]["n_latent"] for m in TRAINED_ENCODERS}
    return max(sizes) if sizes else config["vae"]["n_latent"]


def dataset_input(wildcards):
    return DATASETS[wildcards.dataset]["path"]


def vcf_input(wildcards):
    """The genotype input of a vcf dataset: VCF/BCF and its index, a PLINK fileset's three files or a
    VCF Zarr store, and the sample sheet when there is one; with ``phase: beagle``, the phased VCF,
    its index and the phasing summary instead of the file."""
    entry = DATASETS[wildcards.dataset]
    files = {}
    if entry["sample_sheet"] is not None:
        files["sample_sheet"] = entry["sample_sheet"]
    if wildcards.dataset in PHASED_DATASETS:
        phased = f"results/{wildcards.dataset}/phased.vcf.gz"
        return {
            **files,
            "input": phased,
            "index": f"{phased}.tbi",
            "phasing": f"results/{wildcards.dataset}/phasing.json",
        }
    path = entry["path"]
    files["input"] = path
    fmt = genotype_format(path)
    if fmt == "vcf":
        index = [f"{path}{ext}" for ext in (".tbi", ".csi") if Path(f"{path}{ext}").exists()]
        if path == SIMULATED_PANEL["vcf"]:
            index = [f"{path}.tbi"]
        if index:
            files["index"] = index[0]
    elif fmt in ("bed", "pgen"):
        from omicsgen.genotypes.plink import fileset

        files.update({role: str(file) for role, file in fileset(path).items() if role != "genotypes"})
    return files


def phase_input(wildcards):
    """The unphased VCF/BCF of a dataset with ``phase: beagle`` (Beagle reads it whole: no index)."""
    return {"input": DATASETS[wildcards.dataset]["path"]}


def _split_params():
    return {
        "val_fraction": config["split"]["val_fraction"],
        "test_fraction": config["split"]["test_fraction"],
        "seed": config["seed"],
    }


def preprocess_params(wildcards):
    entry = DATASETS[wildcards.dataset]
    return {
        "layer": entry["layer"],
        "label_key": entry["label"],
        "n_top_genes": entry["n_top_genes"],
        "likelihood": entry["likelihood"],
        "values": entry["values"],
        **_split_params(),
    }


def simulated_panel_params():
    panel = config["simulated_panel"]
    return {
        "n_per_population": panel["n_per_population"],
        "contig": panel["contig"],
        "left_bp": panel["left_bp"],
        "length_bp": panel["length_bp"],
        "seed": config["seed"],
    }


def bam_input(wildcards):
    """The BAM/CRAM (or the sample sheet and the files it lists), the reference and the BED of a bam dataset."""
    entry = DATASETS[wildcards.dataset]
    files = {"input": entry["path"]}
    if entry["path"].endswith((".tsv", ".txt")):
        import pandas as pd

        sheet = pd.read_csv(entry["path"], sep="\t", dtype=str)
        base = Path(entry["path"]).parent
        files["listed"] = [p if Path(p).is_absolute() else str(base / p) for p in sheet.get("path", [])]
    for key in ("reference", "bed"):
        if entry[key] is not None:
            files[key] = entry[key]
    return files


def preprocess_bam_params(wildcards):
    entry = DATASETS[wildcards.dataset]
    keys = (
        "shape",
        "regions",
        "group_by",
        "bin_size",
        "value",
        "window",
        "stride",
        "min_mapq",
        "min_baseq",
        "exclude_flags",
        "proper_pairs",
    )
    return {"label_key": entry["label"], **{key: entry[key] for key in keys}, **_split_params()}


def preprocess_vcf_params(wildcards):
    entry = DATASETS[wildcards.dataset]
    keys = ("regions", "encoding", "min_maf", "min_call_rate", "missing")
    return {"label_key": entry["label"], **{key: entry[key] for key in keys}, **_split_params()}


def evaluate_input(wildcards):
    """The real data, and the model's latent and synthetic cells; a control's synthetic cells are the first
    generator's, whose label counts set the control's sizes (every generator draws the same counts)."""
    files = {"real": f"results/{wildcards.dataset}/preprocessed.h5ad"}
    if wildcards.model in ENCODERS:
        files["latent"] = f"results/{wildcards.dataset}/{wildcards.model}/latent.h5ad"
    if wildcards.model in GENERATORS or wildcards.model in CONTROLS:
        sizes = wildcards.model if wildcards.model in GENERATORS else dataset_generators(wildcards.dataset)[0]
        files["synthetic"] = f"results/{wildcards.dataset}/{sizes}/synthetic.h5ad"
    return files


def model_outputs(name):
    """One evaluation output (``metrics.tsv``, ``per_label.tsv``, ``bootstrap.tsv``) of every dataset, model and control."""
    return [
        f"results/{dataset}/{model}/{name}"
        for dataset in DATASETS
        for model in dataset_models(dataset) + (CONTROLS if dataset_generators(dataset) else [])
    ]


def synthetic_genotypes():
    """Synthetic genotypes written back as VCF for every vcf dataset and generator, and as a PLINK
    fileset (.bed or .pgen, as the input) for PLINK inputs."""
    files = []
    for name in VCF_DATASETS:
        fmt = genotype_format(DATASETS[name]["path"])
        suffixes = ["vcf.gz"] + ([fmt] if fmt in ("bed", "pgen") else [])
        files += [f"results/{name}/{m}/synthetic.{suffix}" for m in dataset_generators(name) for suffix in suffixes]
    return files


def report_layout():
    """Dataset -> files the report reads, by kind and model."""
    layout = {}
    for dataset in DATASETS:
        base, models = f"results/{dataset}", dataset_models(dataset)
        layout[dataset] = {
            "modality": DATASETS[dataset]["modality"],
            "preprocessed": f"{base}/preprocessed.h5ad",
            "history": {m: f"{base}/{m}/history.csv" for m in models if m in TORCH_MODELS},
            "training": {m: f"{base}/{m}/training.json" for m in models if m in TORCH_MODELS},
            "latent": {m: f"{base}/{m}/latent.h5ad" for m in models if m in ENCODERS},
            "synthetic": {m: f"{base}/{m}/synthetic.h5ad" for m in models if m in GENERATORS},
        }
    return layout


def report_files(wildcards):
    files = []
    for entry in report_layout().values():
        files.append(entry["preprocessed"])
        for kind in ("history", "training", "latent", "synthetic"):
            files.extend(entry[kind].values())
    return files
