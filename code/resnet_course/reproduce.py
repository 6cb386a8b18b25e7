"""``python -m resnet_course reproduce``: the chapters' long experiments, stored as JSON."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``reproduce`` command (placeholder until the experiments land)."""
    p = sub.add_parser("reproduce", help="run the chapters' experiments into results/")
    p.set_defaults(func=lambda args: 0)
