"""A new likelihood and a new family, each defined here and registered, run through training,
the latent stage and synthesis without any change to library code (the extension recipes of
ARCHITECTURE.md)."""

from __future__ import annotations

import numpy as np
import torch

from omicsgen import registry
from omicsgen.latent import encoder_latent
from omicsgen.models import VAE
from omicsgen.models.likelihoods import LIKELIHOODS, Likelihood
from omicsgen.synthesize import synthesize
from omicsgen.train import load_model, train_model
from tests.conftest import FAST_AE, FAST_VAE


class Poisson(Likelihood):
    """Counts with mean proportions x library and no dispersion (a toy: NB without theta)."""

    name = "poisson"
    decoder_activation = "softmax"
    generator_activation = "relu"
    needs_library = True

    def encoder_input(self, x):
        return torch.log1p(x)

    def mean(self, out, library=None):
        return out * library

    def log_prob(self, x, out, log_dispersion):
        return torch.distributions.Poisson(self.mean(out, x.sum(dim=1, keepdim=True)).clamp_min(1e-8)).log_prob(x)

    def sample(self, mean, log_dispersion):
        return torch.poisson(mean)


class PriorVAE(VAE):
    """A VAE that generates from its N(0, I) prior instead of the aggregate posterior."""

    latent_sampler = "z ~ N(0, I), the VAE's prior"

    def sample_latent(self, label, n, rng):
        return torch.randn(n, self.hparams.n_latent)


def test_a_new_likelihood_trains_encodes_and_synthesizes(prepared, tmp_path, monkeypatch):
    monkeypatch.setitem(LIKELIHOODS, "poisson", Poisson())
    adata = prepared.copy()
    adata.uns["omicsgen"] = {**adata.uns["omicsgen"], "likelihood": "poisson"}
    params = {**registry_defaults("ae"), **FAST_AE}
    model = train_model(adata, "ae", tmp_path / "m.ckpt", tmp_path / "h.csv", params=params, seed=0, threads=1)
    assert model.likelihood.name == "poisson" and model.hparams.likelihood == "poisson"
    restored = load_model(tmp_path / "m.ckpt", "ae")
    assert isinstance(restored.likelihood, Poisson)
    latent, mse = encoder_latent(adata, restored)
    assert latent.shape == (adata.n_obs, params["n_latent"]) and np.isfinite(mse).all()
    synthetic = synthesize(adata, restored, "ae", n_per_label=20, seed=0)
    values = synthetic.X.toarray()
    assert synthetic.n_obs == 20 * adata.obs["bulk_labels"].nunique()
    assert (values >= 0).all() and np.array_equal(values, np.round(values))  # Poisson counts
    # library sizes come from the label's training cells (the likelihood says it needs them)
    assert 0.2 < np.median(values.sum(axis=1)) / np.median(adata.X.sum(axis=1).A1) < 5


def test_a_new_family_trains_encodes_and_synthesizes(prepared, tmp_path, monkeypatch):
    monkeypatch.setitem(registry.MODELS, "prior_vae", registry.ModelSpec(PriorVAE, encoder=True, generator=True))
    assert "prior_vae" in registry.names(trained=True, encoder=True, generator=True)
    params = {**registry_defaults("vae"), **FAST_VAE}
    train_model(
        prepared,
        "prior_vae",
        tmp_path / "m.ckpt",
        tmp_path / "h.csv",
        params=params,
        seed=0,
        threads=1,
        training=tmp_path / "training.json",
    )
    model = load_model(tmp_path / "m.ckpt", "prior_vae")
    assert isinstance(model, PriorVAE)
    latent, _ = encoder_latent(prepared, model)
    assert latent.shape == (prepared.n_obs, params["n_latent"])
    synthetic = synthesize(prepared, model, "prior_vae", n_per_label=10, seed=0)
    assert synthetic.uns["omicsgen"]["synthetic_method"] == "prior_vae: z ~ N(0, I), the VAE's prior"
    assert synthetic.n_obs == 10 * prepared.obs["bulk_labels"].nunique()


def registry_defaults(family: str) -> dict:
    """The default config section of a family (config/config.yaml), as the workflow passes it."""
    import yaml

    from tests.conftest import REPO

    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())[family]


def test_registry_agrees_with_the_training_plans_and_the_config_schema():
    import yaml

    from tests.conftest import REPO

    for name in registry.names(trained=True):
        plan = registry.training_plan(name)
        assert plan.has_encoder == registry.MODELS[name].encoder, name
        assert plan.latent_sampler and plan.curves[0], name
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())["properties"]
    assert schema["models"]["items"]["enum"] == registry.names(trained=True)
    assert schema["baselines"]["items"]["enum"] == registry.names(trained=False)


def test_readme_metric_table_agrees_with_the_metric_registry():
    import re

    from omicsgen.evaluate.metrics import METRICS
    from tests.conftest import REPO

    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### Metrics") : readme.index("## Errors")]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    # generation metrics are also computed for the real and copy controls
    applies = {"encoders": registry.names(encoder=True), "generators": [*registry.names(generator=True), "controls"]}
    listed = set()
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        names = re.findall(r"`(\w+)`", cells[0])
        listed.update(names)
        for name in names:
            assert name in METRICS, f"README lists {name!r}, which METRICS does not have"
            assert cells[-1].split(", ") == applies[METRICS[name].applies_to], name
    assert listed == set(METRICS), f"README's metric table lacks {sorted(set(METRICS) - listed)}"


def test_library_defaults_are_the_config_schema_defaults():
    """The schema holds the defaults; functions that take a config key under its name must default to the same."""
    import inspect

    import yaml

    from omicsgen.models import AE, GAN, VAE
    from omicsgen.preprocess import prepare_alignments, prepare_genotypes, prepare_scrna
    from omicsgen.simulate import simulate_ooa_panel
    from tests.conftest import REPO

    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())["properties"]
    dataset_keys = schema["datasets"]["additionalProperties"]["properties"]

    def defaults(function) -> dict:
        return {
            name: p.default
            for name, p in inspect.signature(function).parameters.items()
            if p.default is not inspect.Parameter.empty
        }

    checked = 0
    for function, modality in ((prepare_scrna, "h5ad"), (prepare_genotypes, "vcf"), (prepare_alignments, "bam")):
        for name, value in defaults(function).items():
            spec = dataset_keys.get(name)
            if spec is not None and modality in spec.get("x-modality", []):
                expected = spec["x-default"]
                if isinstance(value, tuple):  # a set of flags: order does not matter
                    value, expected = sorted(value), sorted(expected)
                assert value == expected, (function.__name__, name)
                checked += 1
            elif name in schema["split"]["properties"]:
                assert value == schema["split"]["properties"][name]["default"], (function.__name__, name)
    sections = ((AE, "ae"), (VAE, "vae"), (GAN, "gan"), (simulate_ooa_panel, "simulated_panel"))
    for function, section in sections:
        for name, value in defaults(function).items():
            if name in schema[section]["properties"]:
                assert value == schema[section]["properties"][name]["default"], (section, name)
                checked += 1
    assert checked > 30
