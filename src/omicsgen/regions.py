"""Genomic regions as users write them (``chrom`` or ``chrom:start-end``), checked against a header's contigs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from omicsgen.errors import InputError

_REGION = re.compile(r"^([^:\s]+)(?::([\d,]+)-([\d,]+))?$")


@dataclass(frozen=True)
class Region:
    """A genomic interval, 1-based and inclusive like ``bcftools view -r`` (``end=None``: to the contig end)."""

    chrom: str
    start: int = 1
    end: int | None = None

    def __str__(self) -> str:
        return self.chrom if self.end is None and self.start == 1 else f"{self.chrom}:{self.start}-{self.end}"


def parse_region(text: str, contigs: dict[str, int], source: str) -> Region:
    """Parse ``"chrom"`` or ``"chrom:start-end"`` (1-based, inclusive, bp) against the header's contigs.

    Parameters
    ----------
    text
        Region string, as bcftools and samtools write it (commas in numbers allowed).
    contigs
        Contig name -> length (bp) from the VCF header (length 0 when unknown).
    source
        File named in errors.

    Raises
    ------
    InputError
        Malformed region, contig absent from the header, ``start > end``, or a start beyond
        the contig's length.
    """
    match = _REGION.match(text.strip())
    if not match:
        raise InputError(f"{source}: region {text!r} is not 'chrom' or 'chrom:start-end'; fix the dataset's 'regions'")
    chrom = match.group(1)
    if chrom not in contigs:
        raise InputError(
            f"{source}: region {text!r} names contig {chrom!r}, absent from the file's header "
            f"(contigs: {', '.join(list(contigs)[:10])}{' ...' if len(contigs) > 10 else ''}); "
            "check the naming ('chr21' vs '21')"
        )
    if match.group(2) is None:
        return Region(chrom)
    start, end = (int(g.replace(",", "")) for g in match.group(2, 3))
    if start < 1 or start > end:
        raise InputError(f"{source}: region {text!r} is empty (start {start} > end {end} or start < 1)")
    length = contigs[chrom]
    if length and start > length:
        raise InputError(f"{source}: region {text!r} starts beyond contig {chrom!r} (length {length} bp)")
    return Region(chrom, start, end)
