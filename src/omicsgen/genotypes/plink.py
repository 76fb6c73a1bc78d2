"""PLINK filesets: PLINK 1 ``.bed/.bim/.fam`` and PLINK 2 ``.pgen/.pvar/.psam``, read and written.

Genotypes are decoded by pgenlib (plink2's own reader library, for both ``.bed`` and ``.pgen``)
in blocks of sites into the layout every genotype reader shares
(:mod:`omicsgen.genotypes.blocks`), so the filters, the missing-genotype policies and the int8
matrix are those of the VCF reader. The text side files are read with pandas. Synthetic
genotypes are written with bed-reader (``.bed``) and pgenlib (``.pgen``).

Alleles follow plink2's reading of a fileset: in ``.bim`` column 5 (A1) is ALT and column 6 (A2)
is REF, so the dosage counts A1, as ``plink --recode A`` does. A ``.bed`` made by plink 1.9
without ``--keep-allele-order`` has the minor allele as A1; its ``ref``/``alt`` then say so.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from omicsgen import contract
from omicsgen.errors import InputError, UnphasedError
from omicsgen.genotypes.blocks import (
    BLOCK_SITES,
    ScanResult,
    SiteFilter,
    SortCheck,
    calls_from_dosage,
    check_options,
    is_biallelic_snp,
    keep_block,
    read_single_pass,
    region_mask,
)
from omicsgen.regions import parse_region

log = logging.getLogger(__name__)

BED_MAGIC = b"\x6c\x1b\x01"  # PLINK 1 .bed, variant-major
PGEN_MISSING = -9  # pgenlib's code of a missing call
_CONTIG = re.compile(r"^##contig=<.*?ID=([^,>]+)(?:.*?length=(\d+))?", re.IGNORECASE)


def fileset(path: str | os.PathLike) -> dict[str, Path]:
    """The three files of a PLINK fileset named by its ``.bed`` or ``.pgen``.

    Returns
    -------
    dict
        ``genotypes`` (the ``.bed``/``.pgen``), ``variants`` (``.bim``/``.pvar``) and
        ``samples`` (``.fam``/``.psam``; a ``.pgen`` may come with a ``.fam``).

    Raises
    ------
    InputError
        A file of the set is missing, or the variant file is zstd-compressed (``.pvar.zst``).
    """
    path = Path(path)
    if path.suffix == ".bed":
        files = {"genotypes": path, "variants": path.with_suffix(".bim"), "samples": path.with_suffix(".fam")}
    elif path.suffix == ".pgen":
        psam = path.with_suffix(".psam")
        files = {
            "genotypes": path,
            "variants": path.with_suffix(".pvar"),
            "samples": psam if psam.exists() or not path.with_suffix(".fam").exists() else path.with_suffix(".fam"),
        }
        if not files["variants"].exists() and path.with_suffix(".pvar.zst").exists():
            raise InputError(
                f"{path}: its variants are in {path.with_suffix('.pvar.zst')} (zstd); decompress it once: "
                f"zstd -d {path.with_suffix('.pvar.zst')}"
            )
    else:
        raise InputError(f"{path}: not a PLINK fileset; point 'path' at the .bed or the .pgen")
    for role, file in files.items():
        if not file.exists():
            raise InputError(
                f"{path}: PLINK fileset incomplete, {file} not found; the {role} file sits next to "
                f"{path.name} with the same name"
            )
    return files


def read_samples(path: str | os.PathLike) -> list[str]:
    """Sample IDs (IID) of a ``.fam`` or ``.psam``, in file order.

    Raises
    ------
    InputError
        Unreadable file, no IID column, or an IID that occurs twice.
    """
    path = Path(path)
    with open(path) as handle:
        first = handle.readline()
    if first.startswith("#"):  # .psam with a header line: #FID IID ... or #IID ...
        table = pd.read_csv(path, sep="\t", dtype=str)
        table.columns = [c.lstrip("#") for c in table.columns]
        if "IID" not in table.columns:
            raise InputError(f"{path}: no IID column in the header ({list(table.columns)}); is this a .psam?")
        iids = table["IID"].tolist()
    else:  # .fam (and header-less .psam): FID IID father mother sex phenotype
        table = pd.read_csv(path, sep=r"\s+", header=None, dtype=str)
        if table.shape[1] < 2:
            raise InputError(f"{path}: expected columns FID IID father mother sex phenotype; found {table.shape[1]}")
        iids = table[1].tolist()
    if not iids:
        raise InputError(f"{path}: the fileset has no samples")
    seen: set[str] = set()
    duplicates = [s for s in iids if s in seen or seen.add(s)]
    if duplicates:
        raise InputError(
            f"{path}: sample IID {duplicates[0]!r} occurs more than once ({len(duplicates)} repeats); omicsgen "
            "names samples by IID: make them unique (plink2 --update-ids)"
        )
    return iids


def read_variants(path: str | os.PathLike) -> tuple[pd.DataFrame, dict[str, int]]:
    """Sites of a ``.bim`` or ``.pvar``, and the contigs of a ``.pvar`` header.

    Returns
    -------
    sites : pandas.DataFrame
        ``chrom`` (str), ``pos`` (int64, 1-based bp), ``id``, ``ref``, ``alt`` (str; ``alt``
        may list several alleles, comma-separated), one row per variant in file order.
    contigs : dict
        Contig name -> length (bp) from ``##contig`` lines; contigs without a line get 0.

    Raises
    ------
    InputError
        Missing columns or a position that is not a number.
    """
    path = Path(path)
    contigs: dict[str, int] = {}
    header_line, skip = None, 0
    with open(path) as handle:
        for line in handle:
            if line.startswith("##"):
                match = _CONTIG.match(line)
                if match:
                    contigs[match.group(1)] = int(match.group(2) or 0)
                skip += 1
                continue
            if line.startswith("#CHROM"):
                header_line = line.lstrip("#").rstrip("\n").split("\t")
                skip += 1
            break
    if header_line is not None:  # .pvar: #CHROM POS ID REF ALT [QUAL FILTER INFO CM]
        missing = [c for c in ("CHROM", "POS", "ID", "REF", "ALT") if c not in header_line]
        if missing:
            raise InputError(f"{path}: header line lacks column(s) {missing}; is this a .pvar?")
        table = pd.read_csv(path, sep="\t", skiprows=skip, header=None, names=header_line, dtype=str)
        sites = table[["CHROM", "POS", "ID", "REF", "ALT"]].set_axis(["chrom", "pos", "id", "ref", "alt"], axis=1)
    else:  # .bim (and header-less .pvar): chrom id cM pos A1 A2, A1 = ALT
        table = pd.read_csv(path, sep=r"\s+", skiprows=skip, header=None, dtype=str)
        if table.shape[1] != 6:
            raise InputError(f"{path}: expected 6 columns (chrom, id, cM, pos, A1, A2); found {table.shape[1]}")
        sites = pd.DataFrame({"chrom": table[0], "pos": table[3], "id": table[1], "ref": table[5], "alt": table[4]})
    positions = pd.to_numeric(sites["pos"], errors="coerce")
    if positions.isna().any():
        row = int(np.flatnonzero(positions.isna())[0])
        raise InputError(f"{path}: variant {row + 1} ({sites['id'].iat[row]}) has position {sites['pos'].iat[row]!r}")
    sites["pos"] = positions.astype(np.int64)
    for chrom in dict.fromkeys(sites["chrom"]):
        contigs.setdefault(chrom, 0)
    return sites, contigs


def _open_reader(files: dict[str, Path], n_samples: int, n_variants: int, subset: np.ndarray | None):
    """A pgenlib reader over the fileset, after checking its size against the side files."""
    import pgenlib

    path = files["genotypes"]
    if path.suffix == ".bed":
        with open(path, "rb") as handle:
            magic = handle.read(3)
        if magic != BED_MAGIC:
            raise InputError(
                f"{path}: not a variant-major PLINK 1 .bed (magic bytes {magic.hex()}); remake it with plink --make-bed"
            )
        expected = 3 + n_variants * ((n_samples + 3) // 4)
        size = path.stat().st_size
        if size != expected:
            raise InputError(
                f"{path}: {size} bytes, but {files['variants'].name} ({n_variants} variants) and "
                f"{files['samples'].name} ({n_samples} samples) need {expected}: the .bed is truncated or does not "
                "belong with these .bim/.fam; remake the fileset with plink"
            )
    mismatch = (
        f"the .pgen and {files['variants'].name} ({n_variants} variants) or {files['samples'].name} "
        f"({n_samples} samples) do not belong together"
    )
    try:
        if path.suffix == ".bed":
            reader = pgenlib.PgenReader(bytes(path), raw_sample_ct=n_samples, variant_ct=n_variants)
        else:  # a .pgen records its own counts: check them against the side files
            reader = pgenlib.PgenReader(bytes(path))
            counts = (reader.get_raw_sample_ct(), reader.get_variant_ct())
            if counts != (n_samples, n_variants):
                reader.close()
                raise InputError(
                    f"{path}: holds {counts[0]} samples x {counts[1]} variants, but {mismatch}; "
                    "remake the fileset with plink2 --make-pgen"
                )
        if subset is not None:
            reader.change_sample_subset(subset)
    except RuntimeError as err:
        raise InputError(
            f"{path}: not readable ({str(err).strip()}); {mismatch}, or a file is truncated: remake the fileset"
        ) from err
    return reader


def read_plink(
    path: str | os.PathLike,
    *,
    samples: list[str] | None = None,
    regions: list[str] | None = None,
    encoding: str = "dosage",
    min_maf: float = 0.01,
    min_call_rate: float = 0.9,
    missing: str = "sample_af",
    seed: int = 0,
    tmp_dir: str | os.PathLike | None = None,
):
    """Read biallelic SNP genotypes of a PLINK fileset into an AnnData (obs = samples or haplotypes).

    Parameters
    ----------
    path
        The ``.bed`` (with ``.bim``, ``.fam``) or the ``.pgen`` (with ``.pvar``, ``.psam`` or
        ``.fam``). Samples are named by IID.
    samples, regions, encoding, min_maf, min_call_rate, missing, seed, tmp_dir
        As :func:`omicsgen.genotypes.vcf.read_vcf`; regions are matched against the variant
        file's positions. ``encoding="haplotype"`` needs a ``.pgen`` with phased calls.

    Returns
    -------
    anndata.AnnData
        As :func:`omicsgen.genotypes.vcf.read_vcf`, ``uns["vcf"]["format"]`` ``"bed"`` or ``"pgen"``.

    Raises
    ------
    InputError
        A missing side file, truncated or mismatched files, duplicate IIDs, sites out of
        position order, absent samples, a region naming an absent contig or holding no site,
        unphased calls with ``encoding="haplotype"``, or no site left after the filters.
    """
    check_options(path, encoding, missing)
    files = fileset(path)
    file_format = files["genotypes"].suffix.lstrip(".")
    if encoding == "haplotype" and file_format == "bed":
        raise UnphasedError(
            f"{path}: a PLINK 1 .bed holds no phase, but encoding 'haplotype' needs phased genotypes; "
            "use a phased VCF or .pgen, or set encoding: dosage"
        )
    in_file = read_samples(files["samples"])
    return read_single_pass(
        path,
        _scan,
        files,
        in_file=in_file,
        n_variants=_variant_count(files, len(in_file)),
        file_format=file_format,
        samples=samples,
        regions=regions,
        encoding=encoding,
        min_maf=min_maf,
        min_call_rate=min_call_rate,
        missing=missing,
        seed=seed,
        tmp_dir=tmp_dir,
    )


def _variant_count(files: dict[str, Path], n_samples: int) -> int:
    """Variants in the genotype file, from its size (``.bed``) or its header (``.pgen``)."""
    import pgenlib

    if files["genotypes"].suffix == ".bed":
        return max(0, files["genotypes"].stat().st_size - len(BED_MAGIC)) // ((n_samples + 3) // 4)
    try:
        reader = pgenlib.PgenReader(bytes(files["genotypes"]))
    except RuntimeError as err:
        raise InputError(
            f"{files['genotypes']}: not a readable .pgen ({str(err).strip()}); remake it with plink2"
        ) from err
    count = reader.get_variant_ct()
    reader.close()
    return count


def _scan(files: dict[str, Path], filt: SiteFilter, regions: tuple[str, ...], in_file: tuple[str, ...], rows_path: str):
    """Check the variant file, then decode the selected biallelic SNPs block by block into ``rows_path``."""
    path = filt.path
    sites, contigs = read_variants(files["variants"])
    fix = f"plink2 --{'bfile' if files['genotypes'].suffix == '.bed' else 'pfile'} <prefix> --sort-vars --make-pgen"
    check = SortCheck(path, f"{fix} --out sorted")
    for chrom, pos in zip(sites["chrom"], sites["pos"]):
        check.check(chrom, pos)
    parsed = [parse_region(r, contigs, path) for r in regions]
    chrom, pos = sites["chrom"].to_numpy(), sites["pos"].to_numpy()
    for region in parsed:
        if not region_mask(chrom, pos, [region]).any():
            raise InputError(f"{path}: region {region} holds no site; check 'regions' against {files['variants'].name}")
    selected = region_mask(chrom, pos, parsed)
    index = {s: i for i, s in enumerate(in_file)}
    order = filt.samples
    subset = None if len(order) == len(in_file) else np.array([index[s] for s in order], dtype=np.uint32)
    reader = _open_reader(files, len(in_file), len(sites), subset)
    phased_file = filt.encoding == "haplotype" and reader.hardcall_phase_present()
    snp = np.array([is_biallelic_snp(r, a) for r, a in zip(sites["ref"], sites["alt"])], dtype=bool)
    result = ScanResult(rows_path)
    result.dropped["not_biallelic_snp"] = int((selected & ~snp).sum())
    wanted = np.flatnonzero(selected & snp).astype(np.uint32)
    n = len(order)
    with open(rows_path, "wb") as out:
        for start in range(0, len(wanted), BLOCK_SITES):
            idx = wanted[start : start + BLOCK_SITES]
            if filt.encoding == "haplotype":
                alleles = np.empty((len(idx), 2 * n), dtype=np.int32)
                present = np.zeros((len(idx), n), dtype=np.uint8)
                reader.read_alleles_and_phasepresent_list(idx, alleles, present)
                alleles[alleles == PGEN_MISSING] = -1
                calls = np.empty((len(idx), n, 3), dtype=np.int8)
                calls[..., 0], calls[..., 1] = alleles[:, 0::2], alleles[:, 1::2]
                calls[..., 2] = present if phased_file else 0
            else:
                dosage = np.empty((len(idx), n), dtype=np.int8)
                reader.read_list(idx, dosage)
                calls = calls_from_dosage(dosage)
            block = sites.iloc[idx]
            keep_block(filt, calls, list(block.itertuples(index=False, name=None)), result, out)
    reader.close()
    return result, contigs


def write_plink(adata, path: str | os.PathLike) -> None:
    """Write synthetic genotypes as a PLINK fileset: ``.bed/.bim/.fam`` or ``.pgen/.pvar/.psam``.

    Parameters
    ----------
    adata
        Synthetic AnnData as :func:`omicsgen.genotypes.vcf.write_vcf` takes it. Haplotype rows
        are written as phased calls to a ``.pgen``; a ``.bed`` holds no phase, so it gets
        their dosages.
    path
        The output ``.bed`` or ``.pgen``; the side files are written next to it, all of them
        atomically (a failed write leaves none).

    Raises
    ------
    ValueError
        Values outside the encoding's range, an odd number of haplotypes, or another suffix.
    """
    path = Path(path)
    if path.suffix not in (".bed", ".pgen"):
        raise ValueError(f"{path}: a PLINK output ends in .bed or .pgen")
    X = np.asarray(adata.X)
    haplotype = contract.rows_per_sample(adata) == 2
    top = 1 if haplotype else 2
    if X.size and (X.min() < 0 or X.max() > top):
        raise ValueError(f"genotype values must lie in 0..{top}; got {X.min()}..{X.max()}")
    if haplotype and X.shape[0] % 2:
        raise ValueError("haplotype rows must come in pairs (two per sample)")
    names = list(dict.fromkeys(adata.obs["sample"].astype(str))) if haplotype else list(adata.obs_names.astype(str))
    var = adata.var
    path.parent.mkdir(parents=True, exist_ok=True)
    sides = (".bim", ".fam") if path.suffix == ".bed" else (".pvar", ".psam")
    final = [path, *(path.with_suffix(s) for s in sides)]
    staged = [p.with_name(f".{p.stem}.tmp{p.suffix}") for p in final]
    try:
        if path.suffix == ".bed":
            _write_bed(staged, X, haplotype, names, var)
        else:
            _write_pgen(staged, X, haplotype, names, var, adata.uns.get("vcf", {}).get("contigs", {}))
        for tmp, out in zip(staged, final):
            os.replace(tmp, out)
    finally:
        for tmp in staged:
            tmp.unlink(missing_ok=True)


def _write_bed(staged: list[Path], X: np.ndarray, haplotype: bool, names: list[str], var: pd.DataFrame) -> None:
    from bed_reader import to_bed

    dosage = X[0::2].astype(np.int8) + X[1::2] if haplotype else X.astype(np.int8)
    properties = {
        "fid": names,
        "iid": names,
        "sid": [i if i != "." else f"{c}:{p}" for i, c, p in zip(var["id"], var["chrom"], var["pos"])],
        "chromosome": var["chrom"].astype(str).tolist(),
        "bp_position": var["pos"].astype(int).tolist(),
        "allele_1": var["alt"].astype(str).tolist(),  # counted allele: ALT, as read back
        "allele_2": var["ref"].astype(str).tolist(),
    }
    to_bed(
        staged[0], dosage.astype(np.float32), properties, count_A1=True, bim_filepath=staged[1], fam_filepath=staged[2]
    )


def _write_pgen(staged, X, haplotype, names, var, contigs: dict) -> None:
    import pgenlib

    n_samples = len(names)
    with pgenlib.PgenWriter(
        bytes(staged[0]), n_samples, variant_ct=X.shape[1], nonref_flags=False, hardcall_phase_present=haplotype
    ) as writer:
        for start in range(0, X.shape[1], BLOCK_SITES):
            block = np.ascontiguousarray(X[:, start : start + BLOCK_SITES].T)  # (k, rows)
            if haplotype:
                writer.append_alleles_batch(block.astype(np.int32), all_phased=True)
            else:
                writer.append_biallelic_batch(block.astype(np.int8))
    with open(staged[1], "w") as out:
        for name, length in contigs.items():
            out.write(f"##contig=<ID={name}{f',length={length}' if length else ''}>\n")
        out.write("#CHROM\tPOS\tID\tREF\tALT\n")
        columns = [var[k].astype(str) for k in ("chrom", "pos", "id", "ref", "alt")]
        out.writelines("\t".join(row) + "\n" for row in zip(*columns))
    with open(staged[2], "w") as out:
        out.write("#IID\n")
        out.writelines(f"{name}\n" for name in names)
