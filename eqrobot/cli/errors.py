"""Errors a subcommand reports as one line (``eqrobot CMD: error: ...``) and exit code 2."""


class CliError(Exception):
    pass
