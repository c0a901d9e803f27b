"""``eqrobot COMMAND ...``: every subcommand lives in its own module of this package,
which defines ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``."""

from __future__ import annotations

import argparse
import importlib
import sys

from eqrobot import __version__
from eqrobot.cli.errors import CliError
from eqrobot.device import DeviceUnavailable

# subcommand -> module (imported only when its parser is built; heavy imports live in run()).
COMMANDS = {
    "info": "eqrobot.cli.info",
    "transform": "eqrobot.cli.transform",
    "grid": "eqrobot.cli.grid",
    "register": "eqrobot.cli.register",
    "train": "eqrobot.cli.train",
    "eval": "eqrobot.cli.eval",
    "bench": "eqrobot.cli.bench",
    "demo": "eqrobot.cli.demo",
    "demos": "eqrobot.cli.demos",
    "plan": "eqrobot.cli.plan",
    "dataset": "eqrobot.cli.dataset",
    "pose": "eqrobot.cli.pose",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eqrobot",
        description="Symmetry-aware perception and policy models for robots.",
        epilog="Run 'eqrobot COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"eqrobot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (CliError, ValueError, FileNotFoundError, DeviceUnavailable) as e:
        print(f"eqrobot {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"eqrobot {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
