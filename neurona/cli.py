"""The ``neurona`` command.

Each subcommand is one function ``cmd_<name>(args)`` plus a few lines in
:func:`build_parser` that declare its options.  To add a command, write the function
and register it there::

    p = sub.add_parser("train", help="train a model from the zoo")
    p.add_argument("model")
    p.set_defaults(func=cmd_train)
"""
from __future__ import annotations

import argparse
import sys

__all__ = ["main", "build_parser"]


def cmd_demo(args) -> int:
    """Train a small network by hand on the 2-D spiral problem (see neurona.demo)."""
    from . import demo
    options = {"epochs": args.epochs, "seed": args.seed}
    demo.main(**{k: v for k, v in options.items() if v is not None})
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    parser = argparse.ArgumentParser(
        prog="neurona",
        description="neurona: a readable deep-learning library with PyTorch's API, on NumPy.")
    parser.add_argument("--version", action="version", version=f"neurona {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("demo", help="train a 2-layer network with autograd on a spiral "
                                     "(a few seconds, no downloads)")
    p.add_argument("--epochs", type=int, help="training epochs (default 800)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.set_defaults(func=cmd_demo)

    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
