"""Errors a subcommand reports as one line (``eqrobot CMD: error: ...``) and exit code 2."""


class CliError(Exception):
    pass


def require_task(name: str) -> None:
    """A one-line error listing the known tasks when ``name`` is not one of them."""
    from eqrobot.sim.tasks import TASKS

    if name not in TASKS:
        raise CliError(f"unknown task '{name}'; known tasks: {', '.join(sorted(TASKS))}")
