"""Command line: ``python -m resnet_course <command>``.

Commands:

* ``data``  -- find Fashion-MNIST (downloading it if allowed), verify it, say
  where;
* ``train`` -- train ResNet-18 on Fashion-MNIST (every setting of TrainConfig is a
  flag; --help); it refuses to replace a checkpoint unless told ``--resume`` or
  ``--overwrite``, and checks its output paths before training;
* ``bench`` -- d2l's recipe and ours side by side on one device: time to 91.4 %,
  accuracy, images/s;
* ``reproduce`` -- the chapters' stored experiments (see :mod:`.reproduce`).

A user's error is one ``error:`` line and an exit code, never a traceback: 1 for
missing or corrupt data or checkpoints, 2 for a setting or path, 130 for Ctrl-C
(with how to resume).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


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


def cmd_train(args: argparse.Namespace) -> int:
    """Train; launched by torchrun, every process runs this, and only rank 0
    reports (the others' errors are the same as rank 0's, or rank 0 says another
    one failed).
    """
    import dataclasses

    from .checkpoint import LAST, check_writable_file
    from .distributed import launched_world
    from .trainer import TrainConfig

    cfg = TrainConfig(
        **{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)}
    )
    main = launched_world().is_main
    last = Path(cfg.checkpoint_dir) / LAST if cfg.checkpoint_dir else None
    if last is not None and last.is_file() and not (cfg.resume or args.overwrite):
        return _error(
            f"{last} holds a run already. Continue it with --resume, start over"
            " with --overwrite, or choose another --checkpoint-dir",
            2,
            main,
        )
    if args.history_json:
        check_writable_file(args.history_json, "--history-json")
    return _train_and_report(cfg, args.history_json, last, main)


def _train_and_report(
    cfg, history_json: str | None, last: Path | None, main: bool
):
    from .distributed import first_to_report, launched_world, peer_failure
    from .multiprocess import PEER_STOPPED
    from .trainer import NonFiniteLossError, train

    try:
        result = train(cfg)
    except (ValueError, FileNotFoundError, NonFiniteLossError) as exc:
        return _error(str(exc), 2 if isinstance(exc, ValueError) else 1, main)
    except KeyboardInterrupt:
        return _interrupted(last, cfg.resume, main)
    except Exception as exc:
        if not peer_failure(exc):
            raise
        return _error(
            f"{PEER_STOPPED}; {_hint(last, cfg.resume)}",
            1,
            first_to_report(launched_world()),
        )
    if not main:
        return 0
    print(_summary(cfg, result.history))
    if history_json:
        with open(history_json, "w") as f:
            json.dump(
                {"config": cfg.to_dict(), "history": result.history.to_dict()},
                f,
                indent=2,
            )
        print(f"history written to {history_json}")
    return 0


def _summary(cfg, h) -> str:
    """The one line a finished run prints."""
    reached = h.time_to(cfg.target_acc)
    return (
        f"final test accuracy {h.final_test_acc:.4f} after {h.epoch[-1]} epochs |"
        f" training {h.train_seconds[-1]:.1f} s, {h.images_per_second:,.0f}"
        f" images/s | warm-up {h.warmup_seconds:.1f} s | {cfg.target_acc:.1%}"
        " reached "
        + (f"after {reached:.1f} s" if reached is not None else "never")
        + (
            f" | peak GPU memory {h.peak_memory_bytes / 1e9:.2f} GB"
            if h.peak_memory_bytes
            else ""
        )
        + f" | {h.device}, {h.precision}, compile={h.compile}"
        + (f" | {h.processes} processes" if h.processes > 1 else "")
    )


def _hint(last: Path | None, resumed: bool) -> str:
    """What is kept of an interrupted run, and how to continue it."""
    if last is None:
        return "no checkpoint was written (--checkpoint-dir is empty)"
    if last.is_file():
        return (
            f"the checkpoint of the last finished epoch is in {last}; continue"
            " the run with the same command"
            + ("" if resumed else " and --resume")
        )
    return "no epoch had finished, so there is no checkpoint to resume from"


def _interrupted(last: Path | None, resumed: bool, main: bool = True) -> int:
    """Ctrl-C: say what is kept and how to continue; 130 is the shell's code for
    it."""
    return _error(f"interrupted; {_hint(last, resumed)}", 130, main)


def _error(message: str, code: int, show: bool = True) -> int:
    """Print ``message`` as one ``error:`` line (unless ``show`` is false: a
    process of a data-parallel run other than rank 0) and return the exit code."""
    if show:
        print(f"error: {message}", file=sys.stderr)
    return code


def cmd_bench(args: argparse.Namespace) -> int:
    from . import bench
    from .checkpoint import check_writable_file

    if args.nproc:
        return _bench_scaling(args)
    recipes = tuple(r.strip() for r in args.recipes.split(","))
    unknown = set(recipes) - {"d2l", "fast", "best"}
    if unknown:
        return _error(
            f"unknown recipe(s) {', '.join(sorted(unknown))}; choose from d2l,"
            " fast, best",
            2,
        )
    if args.json:
        check_writable_file(args.json, "--json")
    overrides = {
        k: v
        for k, v in (("compile", args.compile), ("batch_size", args.batch_size))
        if v is not None
    }

    started = time.perf_counter()

    def save(rows, complete: bool = False) -> None:
        if args.json:
            import torch

            from .results import cli_command, provenance

            command = cli_command(*args.argv)
            meta = {
                "profile": args.profile,
                "torch": torch.__version__,
                "recipes": bench.RECIPES,
                "overrides": overrides,
                "complete": complete,
                "provenance": provenance(
                    command,
                    rows[0].device if rows else "none",
                    time.perf_counter() - started,
                ),
            }
            bench.write_json(rows, args.json, meta)

    try:
        rows = bench.run_bench(
            args.profile,
            args.device,
            recipes,
            args.seeds,
            args.fast_epochs,
            args.best_epochs,
            progress=not args.no_progress,
            on_row=save,
            overrides=overrides,
        )
    except ValueError as exc:
        return _error(str(exc), 2)
    print()
    print(bench.markdown_table(rows))
    print(bench.summary(rows))
    if args.json:
        save(rows, complete=True)
        print(f"results written to {args.json}")
    return 0


def _bench_scaling(args: argparse.Namespace) -> int:
    """``bench --nproc N``: the fast recipe with 1, 2, 4, ... N processes
    (torchrun), the global batch fixed; images/s, speed-up and efficiency."""
    from . import multiprocess
    from .checkpoint import check_writable_file
    from .recipes import recipe_config, sizes

    if args.json:
        check_writable_file(args.json, "--json")
    available, kind = multiprocess.device_count_for(args.device)
    if args.nproc > available:
        return _error(
            f"--nproc {args.nproc} is more than this machine's {available}"
            f" {kind}; use --nproc {available} or fewer",
            2,
        )
    size = sizes(args.profile)
    cfg = recipe_config(
        "fast",
        n_train=size["n_train"],
        n_test=size["n_test"],
        width=size["width"],
        batch_size=size["batch_size"],
        epochs=args.fast_epochs or size["fast_epochs"],
        device=args.device,
    )
    try:
        rows = multiprocess.scaling(cfg, multiprocess.process_counts(args.nproc))
    except (ValueError, multiprocess.LaunchFailed) as exc:
        return _error(str(exc), 2)
    print("| processes | images/s | speed-up | efficiency | test acc |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['processes']} | {r['images_per_second']:,.0f} |"
            f" {r['speedup']:.2f} | {r['efficiency']:.0%} | {r['test_acc']:.4f} |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": cfg.to_dict(), "rows": rows}, f, indent=2)
        print(f"results written to {args.json}")
    return 0


def _at_least_one(text: str) -> int:
    """An argparse type: an integer >= 1 (so ``--seeds 0`` is an error, not an
    empty table)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_config_flags(
    p: argparse.ArgumentParser, defaults: dict | None = None
) -> None:
    """One flag per TrainConfig field: --batch-size 512, --augment/--no-augment,
    ..."""
    import dataclasses

    from .train_config import TrainConfig

    defaults = defaults or {}
    for f in dataclasses.fields(TrainConfig):
        default = defaults.get(f.name, f.default)
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help", "") + " (default: %(default)s)"
        kind = type(f.default)
        if kind is bool:
            p.add_argument(
                flag,
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=default,
                help=help_text,
            )
        else:
            p.add_argument(
                flag,
                dest=f.name,
                type=kind,
                default=default,
                help=help_text,
                choices=f.metadata.get("choices"),
                metavar=f.name.upper() if not f.metadata.get("choices") else None,
            )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m resnet_course",
        description="The ResNet course's command line.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "data", help="find, verify (and if allowed download) Fashion-MNIST"
    )
    p.add_argument(
        "--root", help="folder holding the four IDX files (default: search)"
    )
    p.set_defaults(func=cmd_data)

    _add_train_parser(sub)
    _add_bench_parser(sub)
    # owned by reproduce.py
    from .reproduce import add_parser as add_reproduce_parser

    add_reproduce_parser(sub)
    return parser


def _add_train_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train ResNet-18 on Fashion-MNIST (checkpoints every epoch)",
        description=(
            "Train a ResNet-18 on Fashion-MNIST with the data on the device, "
            "mixed precision and a one-cycle schedule. A checkpoint is written "
            "after every epoch; --resume continues a killed run."
        ),
    )
    _add_config_flags(p, {"verbose": True})
    p.add_argument(
        "--history-json",
        metavar="PATH",
        help="also write the config and per-epoch history here",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help=(
            "start a new run even though --checkpoint-dir holds one (it is"
            " replaced)"
        ),
    )
    p.set_defaults(func=cmd_train)


def _add_bench_parser(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="d2l's recipe and ours side by side on one device",
        description=(
            "Run d2l's train_ch6 recipe (d2l_resnet18, 96 px, 10 epochs) and this"
            " package's recipes on the same device and print time to 91.4 %% test"
            " accuracy, final accuracy, images/s, peak GPU memory and warm-up"
            " time."
        ),
    )
    p.add_argument(
        "--profile",
        choices=["smoke", "cpu", "gpu"],
        default=None,
        help=(
            "sizes: gpu = the full benchmark, cpu/smoke = subsets and a narrower"
            " network (default: $RESNET_COURSE_PROFILE, else gpu on an"
            " H100/H200-class GPU and cpu otherwise)"
        ),
    )
    p.add_argument(
        "--device",
        default="auto",
        help="cpu, cuda, cuda:N or auto (default: %(default)s)",
    )
    p.add_argument(
        "--recipes",
        default="d2l,fast",
        help="comma-separated, from d2l, fast, best (default: %(default)s)",
    )
    p.add_argument(
        "--seeds",
        type=_at_least_one,
        default=3,
        help="seeds of the best recipe (default: %(default)s)",
    )
    _add_bench_recipe_flags(p)
    p.add_argument(
        "--json",
        metavar="PATH",
        help="also write the rows as JSON (rewritten after every finished row)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--nproc",
        type=_at_least_one,
        default=None,
        metavar="N",
        help=(
            "instead of the recipes: the fast recipe data-parallel on 1, 2, 4,"
            " ... N processes (torchrun; one per GPU, or gloo on the CPU with"
            " --device cpu), the global batch fixed: images/s, speed-up,"
            " efficiency"
        ),
    )
    p.set_defaults(func=cmd_bench)


def _add_bench_recipe_flags(p) -> None:
    """``bench``'s overrides of our recipes' settings (for a missed goal)."""
    p.add_argument(
        "--fast-epochs",
        type=_at_least_one,
        default=None,
        help="override the fast recipe's epochs",
    )
    p.add_argument(
        "--best-epochs",
        type=_at_least_one,
        default=None,
        help="override the best recipe's epochs",
    )
    p.add_argument(
        "--compile",
        default=None,
        metavar="MODE",
        help=(
            "torch.compile mode of our recipes: auto, none, default,"
            " reduce-overhead, max-autotune, max-autotune-no-cudagraphs (default:"
            " the recipe's, auto)"
        ),
    )
    p.add_argument(
        "--batch-size",
        type=_at_least_one,
        default=None,
        help="batch size of our recipes (the learning rate scales with it)",
    )


def main(argv: list[str] | None = None) -> int:
    """Run one command; the errors a user can meet become one line and an exit
    code, never a traceback (1: data, checkpoint or folder; 2: a setting; 130:
    Ctrl-C).
    """
    from .checkpoint import CheckpointError, RunFolderError
    from .data import DatasetError

    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    show = _is_main_process()
    try:
        return args.func(args)
    except (DatasetError, CheckpointError) as exc:
        return _error(str(exc), 1, show)
    except RunFolderError as exc:
        return _error(str(exc), 2, show)
    except KeyboardInterrupt:
        return _error("interrupted", 130, show)


def _is_main_process() -> bool:
    """False in the processes of a torchrun launch other than rank 0."""
    from .distributed import launched_world

    return launched_world().is_main
