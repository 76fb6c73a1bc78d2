"""omicsgen: generative deep learning on genomics data.

Stages live in their own modules: :mod:`omicsgen.io` (reading and writing files),
:mod:`omicsgen.preprocess` (files to model-ready AnnData), :mod:`omicsgen.models` and
:mod:`omicsgen.train` (Lightning models), :mod:`omicsgen.latent` (embeddings),
:mod:`omicsgen.synthesize` (synthetic data), :mod:`omicsgen.evaluate` (metrics) and
:mod:`omicsgen.report` (HTML report).
"""

from omicsgen.errors import InputError

__version__ = "0.1.0"
__all__ = ["InputError", "__version__"]
