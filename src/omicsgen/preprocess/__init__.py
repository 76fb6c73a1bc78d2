"""Preprocessing: input files to model-ready AnnData (the data contract in DESIGN.md)."""

from omicsgen.preprocess.scrna import log1p_normalized, prepare_scrna
from omicsgen.preprocess.split import stratified_split

__all__ = ["log1p_normalized", "prepare_scrna", "stratified_split"]
