"""Errors that omicsgen raises for bad input."""


class InputError(ValueError):
    """Bad input file, record or config value.

    The message is one line that names the file (or config key), the record and what the
    user should do about it. Workflow scripts print it as a one-line error and exit non-zero.
    """
