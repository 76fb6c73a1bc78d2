"""Errors that omicsgen raises for bad input."""


class InputError(ValueError):
    """Bad input file, record or config value.

    The message is one line that names the file (or config key), the record and what the
    user should do about it. Workflow scripts print it as a one-line error and exit non-zero.
    """


class UnphasedError(InputError):
    """A genotype input without phase where haplotypes were asked for (``encoding: haplotype``);
    ``encoding: auto`` reads such an input as dosages instead."""
