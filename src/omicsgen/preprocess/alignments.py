"""BAM/CRAM alignments to model-ready AnnData: binned read depth, or pileup windows.

Two shapes (data contract, :mod:`omicsgen.contract`):

- ``depth``: obs = one row per BAM (sample sheet), per read group (``RG``) or per cell
  barcode (``CB``); var = bins (``chrom``, ``start``, ``end``, 0-based half-open) over a BED
  file or tiled over the regions; X = read counts per bin (negative binomial), or
  ``log1p`` of the mean depth (Gaussian), as stated in ``uns["bam"]["value"]``.
- ``pileup``: obs = genomic windows (``chrom``, ``start``, ``end``); X = per-position counts of
  A, C, G, T and deletions plus the reference base one-hot, flattened position-major to
  ``window x 9`` features; ``uns["bam"]["tensor_shape"]`` and ``channels`` restore it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from omicsgen.bam import (
    DEFAULT_EXCLUDE,
    PILEUP_CHANNELS,
    ReadFilter,
    binned_depth,
    check_reference,
    contig_lengths,
    indexed_fasta,
    open_alignments,
    parse_regions,
    pileup_counts,
    read_bed,
    tile_bins,
)
from omicsgen.contract import set_model_ready
from omicsgen.errors import InputError
from omicsgen.preprocess.split import stratified_split
from omicsgen.regions import Region

log = logging.getLogger(__name__)

GROUP_BY = ("file", "RG", "CB")
VALUES = ("counts", "mean_depth")


def read_alignment_sheet(path: str | os.PathLike, label_key: str | None) -> pd.DataFrame:
    """Sample sheet of alignment files: TSV with ``sample`` and ``path`` columns (paths relative to the sheet, or
    absolute).

    Raises
    ------
    InputError
        Missing sheet or columns, a duplicate sample, a missing label, or a listed file that
        does not exist (the row is named).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: sample sheet not found; check the dataset's 'sample_sheet'")
    sheet = pd.read_csv(path, sep="\t", dtype=str)
    for column in ("sample", "path", *([label_key] if label_key else [])):
        if column not in sheet.columns:
            raise InputError(
                f"{path}: no {column!r} column (columns: {list(sheet.columns)}); the sheet is a TSV with a header"
            )
    if sheet["sample"].duplicated().any():
        raise InputError(f"{path}: sample {sheet['sample'][sheet['sample'].duplicated()].iloc[0]!r} is listed twice")
    resolved = []
    for line, row in enumerate(sheet.itertuples(index=False), start=2):
        file = Path(row.path) if Path(row.path).is_absolute() else path.parent / row.path
        if not file.exists():
            raise InputError(f"{path}: line {line} (sample {row.sample!r}): file {row.path!r} not found; fix the path")
        resolved.append(str(file))
    sheet["path"] = resolved
    return sheet.set_index("sample")


def _group_function(group_by: str, sample: str, several_files: bool):
    if group_by == "file":
        return lambda read: sample
    tag = group_by
    prefix = f"{sample}/" if several_files else ""

    def group_of(read):
        return prefix + str(read.get_tag(tag)) if read.has_tag(tag) else None

    return group_of


def prepare_depth(
    files: dict[str, str],
    *,
    source: str,
    reference: str | None = None,
    labels: pd.Series | None = None,
    label_key: str | None = None,
    regions: list[str] | None = None,
    bed: str | None = None,
    bin_size: int = 10_000,
    group_by: str = "file",
    value: str = "counts",
    read_filter: ReadFilter = ReadFilter(),
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> ad.AnnData:
    """Binned read depth of one or more BAM/CRAM files as a model-ready AnnData.

    Parameters
    ----------
    files
        Sample name -> BAM/CRAM path.
    source
        Named in errors (the sample sheet or the single file).
    reference
        FASTA, needed for CRAM.
    labels, label_key
        Per-sample labels (index: sample) and the column name they go to in ``obs``.
    regions
        ``chrom`` or ``chrom:start-end`` (1-based inclusive) to tile with ``bin_size``; ``None``
        for every contig. Ignored when ``bed`` is given.
    bed
        BED file of bins (0-based half-open).
    bin_size
        Bin length (bp) when tiling.
    group_by
        ``"file"``: one row per file; ``"RG"``/``"CB"``: one row per read group / cell barcode
        tag value (reads without the tag are counted in ``uns["bam"]["n_unassigned_reads"]``).
    value
        ``"counts"``: reads starting in the bin (negative binomial); ``"mean_depth"``: aligned
        bases / bin length, stored as ``log1p`` (Gaussian).
    read_filter
        Minimum MAPQ, excluded flags, proper pairs.
    val_fraction, test_fraction, seed
        Split (stratified by label when there are labels).

    Returns
    -------
    anndata.AnnData
        ``X`` float32 ``(n_groups, n_bins)``; ``var``: ``chrom``, ``start``, ``end``.

    Raises
    ------
    InputError
        Bad files (see :func:`omicsgen.bam.open_alignments`), regions or BED bins outside the
        contigs, files with different contigs, no read passing the filter.
    """
    if group_by not in GROUP_BY:
        raise InputError(f"{source}: group_by {group_by!r} is not one of {GROUP_BY}")
    if value not in VALUES:
        raise InputError(f"{source}: value {value!r} is not one of {VALUES}")
    rows, counts_blocks, depth_blocks, row_samples = [], [], [], []
    bins, lengths, n_unassigned = None, None, 0
    with indexed_fasta(reference) as fasta:
        for sample, path in files.items():
            with open_alignments(path, fasta) as handle:
                if lengths is None:
                    lengths = contig_lengths(handle)
                    if bed:
                        bins = read_bed(bed, lengths)
                    else:
                        bins = tile_bins(parse_regions(regions, lengths, str(path)), bin_size)
                elif contig_lengths(handle) != lengths:
                    raise InputError(
                        f"{path}: its contigs differ from those of {next(iter(files.values()))}; "
                        "align all files to one reference"
                    )
                groups, counts, depth, unassigned = binned_depth(
                    handle, bins, _group_function(group_by, sample, len(files) > 1), read_filter
                )
            n_unassigned += unassigned
            rows += groups
            row_samples += [sample] * len(groups)
            counts_blocks.append(counts)
            depth_blocks.append(depth)
    if not rows:
        where = f"the bins of {bed}" if bed else _describe(regions or ["every contig"])
        raise InputError(
            f"{source}: no read passed the filters in {where} (min MAPQ {read_filter.min_mapq}, excluded flags "
            f"{read_filter.exclude_flags:#x}{', proper pairs' if read_filter.proper_pairs else ''}"
            f"{', with a ' + group_by + ' tag' if group_by != 'file' else ''}); relax them or check 'regions'"
        )
    counts, depth = np.vstack(counts_blocks), np.vstack(depth_blocks)
    lengths_bp = (bins["end"] - bins["start"]).to_numpy()
    if value == "counts":
        X, encoding, likelihood = counts.astype(np.float32), "counts", "nb"
    else:
        X, encoding, likelihood = np.log1p(depth / lengths_bp).astype(np.float32), "log1p", "gaussian"
    var = bins.copy()
    var.index = [f"{c}:{s + 1}-{e}" for c, s, e in zip(var["chrom"], var["start"], var["end"])]
    obs = pd.DataFrame({"sample": row_samples}, index=rows)
    adata = ad.AnnData(X=X, obs=obs, var=var)
    if labels is not None:
        adata.obs[label_key] = pd.Categorical(labels.loc[adata.obs["sample"]].to_numpy())
    _split_and_describe(adata, label_key, val_fraction, test_fraction, seed, encoding, likelihood)
    adata.uns["bam"] = {
        "shape": "depth",
        "value": "reads starting in the bin" if value == "counts" else "log1p(aligned bases / bin length)",
        "group_by": group_by,
        "bins": f"BED {bed}" if bed else f"tiled, {bin_size} bp",
        "read_filter": _filter_description(read_filter),
        "n_unassigned_reads": int(n_unassigned),
        "total_reads": int(counts.sum()),
    }
    log.info(
        "%s: %d %s x %d bins, %d reads counted%s",
        source,
        adata.n_obs,
        "files" if group_by == "file" else f"{group_by} groups",
        adata.n_vars,
        counts.sum(),
        "" if group_by == "file" else f", {n_unassigned} passing reads without a {group_by} tag",
    )
    return adata


def prepare_pileup(
    path: str,
    *,
    reference: str,
    regions: list[str] | None = None,
    window: int = 100,
    stride: int | None = None,
    min_baseq: int = 13,
    read_filter: ReadFilter = ReadFilter(),
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> ad.AnnData:
    """Pileup windows of one BAM/CRAM as a model-ready AnnData.

    Parameters
    ----------
    path
        BAM/CRAM.
    reference
        FASTA the reads were aligned to (reference-base channels; CRAM decoding).
    regions
        ``chrom`` or ``chrom:start-end`` (1-based inclusive); ``None``: every contig with
        mapped reads (from the index).
    window, stride
        Window length and step (bp); ``stride=None`` is ``window`` (no overlap). Overlapping
        windows share positions across the train/test split, so keep ``stride = window`` for
        evaluation. A region's last, shorter piece is left out (its length is logged).
    min_baseq
        Bases below this quality are not counted (samtools mpileup's default 13).
    read_filter
        Minimum MAPQ, excluded flags, proper pairs.
    val_fraction, test_fraction, seed
        Random split of windows.

    Returns
    -------
    anndata.AnnData
        ``X`` float32 ``(n_windows, window * 9)`` counts, position-major (position 0's nine
        channels, then position 1's, ...); ``obs``: ``chrom``, ``start``, ``end`` (0-based
        half-open); ``uns["bam"]["tensor_shape"] == [window, 9]``. Windows without any read
        passing the filters are dropped with a warning (counted in
        ``uns["bam"]["n_windows_dropped_no_reads"]``).

    Raises
    ------
    InputError
        Bad file (see :func:`omicsgen.bam.open_alignments`), a region's contig missing from or
        of another length in the FASTA, a region shorter than one window, no read in the windows.
    """
    stride = stride or window
    blocks, starts, chroms, n_tail = [], [], [], 0
    with indexed_fasta(reference) as fasta, open_alignments(path, fasta) as handle:
        lengths = contig_lengths(handle)
        if regions:
            parsed = parse_regions(regions, lengths, str(path))
        else:
            mapped = {stat.contig for stat in handle.get_index_statistics() if stat.mapped > 0}
            parsed = [r for r in parse_regions(None, lengths, str(path)) if r.chrom in mapped]
        check_reference(handle, fasta, parsed, str(path), shown=reference)
        for region in parsed:
            first = np.arange(region.start - 1, region.end - window + 1, stride)
            if len(first) == 0:
                raise InputError(f"{path}: region {region} is shorter than one window ({window} bp); lower 'window'")
            n_tail += region.end - (first[-1] + window)
            batch = max(1, 1_000_000 // stride)
            for k in range(0, len(first), batch):
                chunk = first[k : k + batch]
                span = pileup_counts(
                    handle,
                    Region(region.chrom, int(chunk[0]) + 1, int(chunk[-1]) + window),
                    fasta,
                    read_filter,
                    min_baseq,
                )
                offsets = chunk - chunk[0]
                blocks.append(np.stack([span[o : o + window].ravel() for o in offsets]))
                starts.extend(chunk.tolist())
                chroms.extend([region.chrom] * len(chunk))
    X = np.vstack(blocks).astype(np.float32)
    n_channels = len(PILEUP_CHANNELS)
    reads = X.reshape(len(X), window, n_channels)[:, :, :5].sum(axis=(1, 2))  # A, C, G, T, deletions
    if reads.sum() == 0:
        raise InputError(
            f"{path}: no read passed the filters in {_describe(parsed)}; relax min_mapq/min_baseq or check 'regions'"
        )
    starts, chroms = np.asarray(starts), np.asarray(chroms, dtype=object)
    empty = reads == 0
    if empty.any():  # reference bases alone: nothing to model, as cells with no counts
        log.warning(
            "%s: dropping %d of %d windows with no read passing the filters (first: %s:%d-%d)",
            path,
            int(empty.sum()),
            len(X),
            chroms[empty][0],
            starts[empty][0] + 1,
            starts[empty][0] + window,
        )
        X, starts, chroms = X[~empty], starts[~empty], chroms[~empty]
    obs = pd.DataFrame({"chrom": chroms, "start": starts, "end": starts + window})
    obs.index = [f"{c}:{s + 1}-{s + window}" for c, s in zip(chroms, starts)]
    var = pd.DataFrame(
        {"position": np.repeat(np.arange(window), n_channels), "channel": np.tile(PILEUP_CHANNELS, window)}
    )
    var.index = [f"{p}_{c}" for p, c in zip(var["position"], var["channel"])]
    adata = ad.AnnData(X=X, obs=obs, var=var)
    _split_and_describe(adata, None, val_fraction, test_fraction, seed, "counts", "nb")
    adata.uns["bam"] = {
        "shape": "pileup",
        "tensor_shape": [int(window), n_channels],
        "channels": list(PILEUP_CHANNELS),
        "layout": "position-major: X.reshape(n_obs, *tensor_shape)",
        "window": int(window),
        "stride": int(stride),
        "min_baseq": int(min_baseq),
        "read_filter": _filter_description(read_filter),
        "bases_left_out_at_region_ends": int(n_tail),
        "n_windows_dropped_no_reads": int(empty.sum()),
    }
    log.info(
        "%s: %d windows of %d bp (stride %d) x %d channels; %d bp at region ends left out",
        path,
        adata.n_obs,
        window,
        stride,
        n_channels,
        n_tail,
    )
    return adata


def prepare_alignments(
    path: str,
    *,
    shape: str = "pileup",
    reference: str | None = None,
    bed: str | None = None,
    label_key: str | None = None,
    regions: list[str] | None = None,
    group_by: str = "file",
    bin_size: int = 10_000,
    value: str = "counts",
    window: int = 100,
    stride: int | None = None,
    min_mapq: int = 20,
    min_baseq: int = 13,
    exclude_flags: tuple[str, ...] = DEFAULT_EXCLUDE,
    proper_pairs: bool = False,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> ad.AnnData:
    """A bam dataset of the config: one BAM/CRAM, or a TSV sample sheet of them, to AnnData.

    ``path`` ending in ``.tsv``/``.txt`` is a sample sheet (:func:`read_alignment_sheet`), which
    ``shape="depth"`` needs for several files and labels. Other keywords: see
    :func:`prepare_depth` and :func:`prepare_pileup`.

    Raises
    ------
    InputError
        A pileup of a sample sheet, labels without a sample sheet, and what the two builders raise.
    """
    read_filter = ReadFilter.from_names(min_mapq, exclude_flags, proper_pairs)
    split = {"val_fraction": val_fraction, "test_fraction": test_fraction, "seed": seed}
    is_sheet = str(path).endswith((".tsv", ".txt"))
    if shape == "pileup":
        if is_sheet:
            raise InputError(
                f"{path}: pileup windows are built from one BAM/CRAM; point 'path' at it (or use shape: depth)"
            )
        return prepare_pileup(
            path,
            reference=reference,
            regions=regions,
            window=window,
            stride=stride,
            min_baseq=min_baseq,
            read_filter=read_filter,
            **split,
        )
    if shape != "depth":
        raise InputError(f"{path}: shape {shape!r} is not 'depth' or 'pileup'")
    if is_sheet:
        sheet = read_alignment_sheet(path, label_key)
        files = dict(sheet["path"])
        labels = sheet[label_key] if label_key else None
    else:
        if label_key:
            raise InputError(
                f"{path}: labels come from a sample sheet (TSV: sample, path, {label_key}); point 'path' at one"
            )
        files, labels = {Path(path).name.split(".")[0]: path}, None
    return prepare_depth(
        files,
        source=str(path),
        reference=reference,
        labels=labels,
        label_key=label_key,
        regions=regions,
        bed=bed,
        bin_size=bin_size,
        group_by=group_by,
        value=value,
        read_filter=read_filter,
        **split,
    )


def _describe(regions, n: int = 3) -> str:
    """The first ``n`` regions as text, for messages."""
    names = [str(r) for r in regions]
    return ", ".join(names[:n]) + (f" and {len(names) - n} more regions" if len(names) > n else "")


def _filter_description(read_filter: ReadFilter) -> dict:
    return {
        "min_mapq": read_filter.min_mapq,
        "exclude_flags": int(read_filter.exclude_flags),
        "proper_pairs": bool(read_filter.proper_pairs),
    }


def _split_and_describe(
    adata: ad.AnnData,
    label_key: str | None,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    encoding: str,
    likelihood: str,
) -> None:
    group = adata.obs[label_key].to_numpy() if label_key else np.zeros(adata.n_obs)
    set_model_ready(
        adata,
        stratified_split(group, val_fraction, test_fraction, seed),
        modality="bam",
        encoding=encoding,
        likelihood=likelihood,
        label_key=label_key,
    )
