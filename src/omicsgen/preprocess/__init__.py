"""Preprocessing: input files to model-ready AnnData (the data contract: :mod:`omicsgen.contract`)."""

from omicsgen.preprocess.alignments import prepare_alignments, prepare_depth, prepare_pileup
from omicsgen.preprocess.genotypes import prepare_genotypes, read_sample_sheet
from omicsgen.preprocess.scale import metric_scale
from omicsgen.preprocess.scrna import log1p_normalized, prepare_scrna
from omicsgen.preprocess.split import stratified_split

__all__ = [
    "log1p_normalized",
    "metric_scale",
    "prepare_alignments",
    "prepare_depth",
    "prepare_genotypes",
    "prepare_pileup",
    "prepare_scrna",
    "read_sample_sheet",
    "stratified_split",
]
