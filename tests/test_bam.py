"""BAM/CRAM to read depth and pileup tensors on real alignments (samtools' ex1, NA12878 chrM).

Expected numbers come from samtools 1.16.1 (Debian bookworm); each is next to its command.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pysam
import pytest

from omicsgen import steps
from omicsgen.bam import ReadFilter, binned_depth, contig_lengths, open_alignments, pileup_counts, read_bed, tile_bins
from omicsgen.errors import InputError
from omicsgen.preprocess import prepare_alignments
from omicsgen.regions import Region
from tests.conftest import REPO

NA12878 = REPO / "resources" / "na12878_chrM" / "na12878-chrM-Y-trunc.bam"
HG19_CHRM = REPO / "resources" / "na12878_chrM" / "chrM-Y-trunc.hg19.fa"
EX1 = REPO / "tests" / "data" / "ex1"


@pytest.fixture(scope="module")
def ex1(tmp_path_factory):
    """ex1 as a sorted BAM (``samtools view -b -t ex1.fa.fai ex1.sam.gz | samtools sort``), unindexed, and its FASTA."""
    out = tmp_path_factory.mktemp("ex1")
    fasta = out / "ex1.fa"
    shutil.copy(EX1 / "ex1.fa", fasta)
    pysam.faidx(str(fasta))
    pysam.view("-b", "-t", f"{fasta}.fai", "-o", str(out / "unsorted.bam"), str(EX1 / "ex1.sam.gz"), catch_stdout=False)
    pysam.sort("-o", str(out / "ex1.bam"), str(out / "unsorted.bam"))
    return out / "ex1.bam", fasta


def _with_tag(source: Path, out: Path, tag: str, values: list[str | None]) -> Path:
    """A copy of ``source`` whose reads get ``tag`` set to ``values[i % len(values)]`` (None: no tag)."""
    with pysam.AlignmentFile(str(source)) as bam, pysam.AlignmentFile(str(out), "wb", template=bam) as dest:
        for i, read in enumerate(bam.fetch(until_eof=True)):
            value = values[i % len(values)]
            if value is not None:
                read.set_tag(tag, value)
            dest.write(read)
    return out


# samtools bedcov -Q 20 -G 0x800 -j bins.bed ex1.bam       (200 bp bins tiled over seq1, seq2)
EX1_DEPTH_SUM = [2438, 6406, 7905, 7318, 6961, 8397, 8204, 4322, 4312, 9589, 9772, 9004, 8884, 9415, 7922, 2681]
# for each bin: samtools view -q 20 -F 0xF04 ex1.bam CHR:S-E | awk '$4 >= S' | wc -l   (reads starting in the bin)
EX1_COUNTS = [80, 194, 229, 203, 196, 235, 226, 113, 134, 284, 274, 260, 258, 264, 208, 66]
# the same commands on NA12878 with the BED bins below
NA12878_BED = "chrM\t0\t2000\nchrM\t2000\t4000\nchrM\t4000\t8000\nchrM\t8000\t16571\nchrY\t0\t24316\n"
NA12878_DEPTH_SUM = [639431, 1047212, 1693572, 1879937, 0]
NA12878_COUNTS = [6489, 10540, 17273, 18636, 0]


def test_ex1_depth_equals_samtools(ex1):
    bam, _ = ex1
    with open_alignments(bam) as handle:
        bins = tile_bins([Region(c, 1, n) for c, n in contig_lengths(handle).items()], 200)
        groups, counts, depth, unassigned = binned_depth(handle, bins, lambda read: "ex1", ReadFilter())
    assert groups == ["ex1"] and unassigned == 0
    assert counts[0].tolist() == EX1_COUNTS
    assert depth[0].tolist() == EX1_DEPTH_SUM


def test_na12878_depth_equals_samtools(tmp_path):
    bed = tmp_path / "bins.bed"
    bed.write_text(NA12878_BED)
    with open_alignments(NA12878) as handle:
        bins = read_bed(bed, contig_lengths(handle))
        _, counts, depth, _ = binned_depth(handle, bins, lambda read: "NA12878", ReadFilter())
    assert counts[0].tolist() == NA12878_COUNTS and depth[0].tolist() == NA12878_DEPTH_SUM
    # the index was made in a temporary folder, not next to the input
    assert not Path(f"{NA12878}.bai").exists()


def test_depth_dataset_values_and_filters(ex1):
    bam, _ = ex1
    counts = prepare_alignments(str(bam), shape="depth", bin_size=200)
    assert counts.shape == (1, 16) and counts.uns["omicsgen"]["likelihood"] == "nb"
    assert counts.X[0].tolist() == EX1_COUNTS
    assert counts.var.iloc[0][["chrom", "start", "end"]].tolist() == ["seq1", 0, 200]
    mean = prepare_alignments(str(bam), shape="depth", bin_size=200, value="mean_depth")
    lengths = (mean.var["end"] - mean.var["start"]).to_numpy()
    np.testing.assert_allclose(mean.X[0], np.log1p(np.array(EX1_DEPTH_SUM) / lengths), rtol=1e-6)
    assert mean.uns["omicsgen"]["likelihood"] == "gaussian" and "log1p" in mean.uns["bam"]["value"]
    lenient = prepare_alignments(str(bam), shape="depth", bin_size=200, min_mapq=0, exclude_flags=[])
    assert lenient.X.sum() > counts.X.sum()


def test_read_group_and_barcode_rows(ex1, tmp_path):
    bam, _ = ex1
    for tag in ("RG", "CB"):
        tagged = _with_tag(bam, tmp_path / f"{tag}.bam", tag, ["A", "B", None])
        adata = prepare_alignments(str(tagged), shape="depth", bin_size=200, group_by=tag)
        assert sorted(adata.obs_names) == ["A", "B"]
        # reads without the tag are counted, not dropped silently
        assert adata.X.sum() + adata.uns["bam"]["n_unassigned_reads"] == sum(EX1_COUNTS)
        assert adata.uns["bam"]["n_unassigned_reads"] > 0


def test_sample_sheet_of_bams_with_labels(ex1, tmp_path):
    bam, _ = ex1
    _with_tag(bam, tmp_path / "copy.bam", "RG", ["x"])
    sheet = tmp_path / "samples.tsv"
    sheet.write_text(f"sample\tpath\tcondition\nfirst\t{bam}\tcase\nsecond\tcopy.bam\tcontrol\n")
    adata = prepare_alignments(str(sheet), shape="depth", bin_size=400, label_key="condition")
    assert list(adata.obs_names) == ["first", "second"]
    assert adata.obs["condition"].tolist() == ["case", "control"]
    np.testing.assert_array_equal(adata.X[0], adata.X[1])


def test_pileup_channels_equal_samtools():
    with open_alignments(NA12878) as handle:
        counts = pileup_counts(handle, Region("chrM", 1001, 1010), HG19_CHRM, ReadFilter(), 13)
        # samtools depth -a -q 13 -Q 20 -G 0x800 -r chrM:1001-1010 na12878.bam
        assert counts[:, :4].sum(axis=1).tolist() == [181, 181, 179, 179, 177, 173, 173, 174, 174, 173]
        # deletions: samtools depth -a -J -Q 20 -G 0x800 minus the same without -J, chrM:514-519 and 16182-16187
        # (no base-quality filter: a deletion has no base quality)
        assert pileup_counts(handle, Region("chrM", 514, 519), HG19_CHRM, ReadFilter(), 13)[:, 4].tolist() == [
            0,
            0,
            7,
            7,
            0,
            0,
        ]
        assert pileup_counts(handle, Region("chrM", 16182, 16187), HG19_CHRM, ReadFilter(), 13)[:, 4].tolist() == [
            0,
            0,
            214,
            0,
            0,
            0,
        ]
    reference = pysam.FastaFile(str(HG19_CHRM)).fetch("chrM", 1000, 1010).upper()
    assert ["ACGT"[i] for i in counts[:, 5:].argmax(axis=1)] == list(reference)
    assert (counts[:, 5:].sum(axis=1) == 1).all()


def test_pileup_windows_dataset():
    adata = prepare_alignments(str(NA12878), shape="pileup", reference=str(HG19_CHRM), regions=["chrM"], window=50)
    assert adata.shape == (16571 // 50, 450) and adata.uns["bam"]["tensor_shape"] == [50, 9]
    assert adata.uns["bam"]["bases_left_out_at_region_ends"] == 16571 % 50
    tensor = adata.X.reshape(adata.n_obs, 50, 9)
    assert list(adata.obs_names[:2]) == ["chrM:1-50", "chrM:51-100"]
    with open_alignments(NA12878) as handle:
        direct = pileup_counts(handle, Region("chrM", 51, 100), HG19_CHRM, ReadFilter(), 13)
    np.testing.assert_array_equal(tensor[1], direct)
    assert 250 < tensor[:, :, :5].sum(axis=2).mean() < 450  # ~350x


# --- bad input: one clear error and no output ---------------------------------------------------


def _fails(tmp_path, match: str, input: str, **params) -> str:
    output = tmp_path / "out" / "preprocessed.h5ad"
    with pytest.raises(InputError, match=match) as info:
        steps.preprocess_bam(input, str(output), **params)
    assert not output.parent.exists() or not any(output.parent.iterdir())
    return str(info.value)


def test_unsorted_bam(ex1, tmp_path):
    bam, _ = ex1
    unsorted = tmp_path / "unsorted.bam"
    with pysam.AlignmentFile(str(bam)) as src:
        reads = list(src.fetch(until_eof=True))
        header = src.header.to_dict()
    header["HD"] = {"VN": "1.6"}  # no sort order claimed: found out while indexing
    with pysam.AlignmentFile(str(unsorted), "wb", header=header) as out:
        for read in reversed(reads):
            out.write(read)
    message = _fails(tmp_path, "not sorted by coordinate", str(unsorted), shape="depth")
    assert "samtools sort" in message and str(unsorted) in message


def test_cram_without_reference(ex1, tmp_path):
    bam, fasta = ex1
    cram = tmp_path / "ex1.cram"
    pysam.view("-C", "-T", str(fasta), "-o", str(cram), str(bam), catch_stdout=False)
    _fails(tmp_path, "CRAM needs its reference", str(cram), shape="depth")
    with_reference = prepare_alignments(str(cram), shape="depth", reference=str(fasta), bin_size=200)
    assert with_reference.X[0].tolist() == EX1_COUNTS


def test_contigs_not_matching_fasta_or_bed(ex1, tmp_path):
    bam, fasta = ex1
    renamed = tmp_path / "renamed.fa"
    renamed.write_text(fasta.read_text().replace(">seq1", ">chr1").replace(">seq2", ">chr2"))
    message = _fails(
        tmp_path, "contig 'seq1' of the alignments is not in", str(bam), shape="pileup", reference=str(renamed)
    )
    assert str(renamed) in message
    bed = tmp_path / "bins.bed"
    bed.write_text("seq1\t0\t500\nchr2\t0\t500\n")
    message = _fails(tmp_path, "line 2: contig 'chr2' is not in the alignments", str(bam), shape="depth", bed=str(bed))
    assert str(bed) in message


def test_region_outside_contig(ex1, tmp_path):
    bam, _ = ex1
    message = _fails(tmp_path, "beyond contig 'seq1'", str(bam), shape="depth", regions=["seq1:1-5000"])
    assert "1575 bp" in message


def test_empty_bam(ex1, tmp_path):
    bam, _ = ex1
    empty = tmp_path / "empty.bam"
    with pysam.AlignmentFile(str(bam)) as src, pysam.AlignmentFile(str(empty), "wb", template=src):
        pass
    _fails(tmp_path, "no alignment in the file", str(empty), shape="depth")


def test_sample_sheet_naming_missing_file(ex1, tmp_path):
    bam, _ = ex1
    sheet = tmp_path / "samples.tsv"
    sheet.write_text(f"sample\tpath\nfirst\t{bam}\nsecond\tnot_there.bam\n")
    message = _fails(
        tmp_path, "line 3 \\(sample 'second'\\): file 'not_there.bam' not found", str(sheet), shape="depth"
    )
    assert str(sheet) in message


def test_unindexed_input_is_indexed_on_the_fly(ex1):
    bam, _ = ex1
    assert not Path(f"{bam}.bai").exists()
    with open_alignments(bam) as handle:
        assert handle.has_index() and handle.mapped > 0
    assert not Path(f"{bam}.bai").exists()
    assert gzip.open(EX1 / "ex1.sam.gz", "rt").readline().startswith("B7_")  # the shipped SAM has no header


def test_sam_named_bam_gets_a_fix_that_keeps_the_input(ex1, tmp_path):
    bam, _ = ex1
    sam = tmp_path / "reads.bam"  # SAM text under a BAM name
    with pysam.AlignmentFile(str(bam)) as src, pysam.AlignmentFile(str(sam), "w", template=src) as out:
        for read in src.fetch(until_eof=True):
            out.write(read)
    message = _fails(tmp_path, "SAM text", str(sam), shape="depth")
    assert f"samtools sort -o reads.sorted.bam {sam}" in message


def test_fasta_without_index_is_indexed_outside_the_input_folder(ex1, tmp_path):
    bam, fasta = ex1
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    bare = inputs / "ref.fa"
    shutil.copy(fasta, bare)  # no .fai beside it
    pileup = prepare_alignments(str(bam), shape="pileup", reference=str(bare), regions=["seq1"], window=50)
    cram = tmp_path / "ex1.cram"
    pysam.view("-C", "-T", str(fasta), "-o", str(cram), str(bam), catch_stdout=False)
    depth = prepare_alignments(str(cram), shape="depth", reference=str(bare), bin_size=200)
    assert sorted(p.name for p in inputs.iterdir()) == ["ref.fa"]  # the user's folder is untouched
    assert depth.X[0].tolist() == EX1_COUNTS and pileup.n_obs == 1575 // 50


def test_windows_without_reads_are_dropped_with_a_warning(ex1, tmp_path, caplog):
    bam, fasta = ex1
    front = tmp_path / "front.bam"  # only the reads starting in seq1's first 800 bp
    with pysam.AlignmentFile(str(bam)) as src, pysam.AlignmentFile(str(front), "wb", template=src) as out:
        for read in src.fetch(until_eof=True):
            if read.reference_name == "seq1" and 0 <= read.reference_start < 800:
                out.write(read)
    adata = prepare_alignments(str(front), shape="pileup", reference=str(fasta), regions=["seq1"], window=50)
    n_empty = adata.uns["bam"]["n_windows_dropped_no_reads"]
    assert n_empty > 0 and adata.n_obs == 1575 // 50 - n_empty
    assert adata.X.reshape(adata.n_obs, 50, 9)[:, :, :5].sum(axis=(1, 2)).min() > 0
    assert f"dropping {n_empty} of {1575 // 50} windows with no read" in caplog.text


def test_no_read_passing_the_filters_names_the_region(ex1, tmp_path):
    bam, fasta = ex1
    message = _fails(
        tmp_path,
        "no read passed the filters in seq2:1-500",
        str(bam),
        shape="depth",
        regions=["seq2:1-500"],
        min_mapq=255,
    )
    assert "min MAPQ 255" in message
    _fails(
        tmp_path,
        "no read passed the filters in seq1:1-500",
        str(bam),
        shape="pileup",
        reference=str(fasta),
        regions=["seq1:1-500"],
        min_mapq=255,
    )
