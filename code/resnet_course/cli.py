"""Command line: ``python -m resnet_course <command>``.

Commands:
  data   find Fashion-MNIST (downloading it if allowed), verify it, and say where it is
"""

from __future__ import annotations

import argparse
import sys


def cmd_data(args: argparse.Namespace) -> int:
    from . import data

    try:
        folder = data.find_fashion_mnist(args.root)
        for split in ("train", "test"):
            images, _ = data.load_split(split, folder)
            print(f"  {split:5s}: {len(images):6d} images, checksums OK")
    except data.DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Fashion-MNIST verified in {folder}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m resnet_course",
                                     description="The ResNet course's command line.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("data", help="find, verify (and if allowed download) Fashion-MNIST")
    p.add_argument("--root", help="folder holding the four IDX files (default: search)")
    p.set_defaults(func=cmd_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
