"""User-facing errors: raised for bad input, printed as one line by the CLI (never a traceback)."""


class UserError(Exception):
    """A mistake the user can fix (bad flag, unreachable host, missing file).

    The CLI prints ``tokenswarm: error: <message>`` and exits with status 2.
    """
