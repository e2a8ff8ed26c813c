"""The ``vaecore`` command: train one configuration, run the notebook sweep, benchmark the trainer."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
from pathlib import Path

from vaecore.config import Config
from vaecore.errors import VaecoreError


def parser() -> argparse.ArgumentParser:
    """The ``vaecore`` command and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="vaecore", description="Variational autoencoders on MNIST: train, sweep, evaluate, benchmark.")
    commands = parser.add_subparsers(dest="command", required=True)
    long_work = [_train_parser(commands), _sweep_parser(commands), _evaluate_parser(commands)]
    for command in long_work:
        command.add_argument("--quiet", action="store_true",
                             help="progress as a line every half minute, not a redrawn bar (as in logs)")
    _bench_parser(commands)
    _explorer_parser(commands)
    return parser


def _train_parser(commands) -> argparse.ArgumentParser:
    """``vaecore train``: one configuration, trained."""
    train = commands.add_parser(
        "train", help="train one configuration and write its checkpoint, metrics.json and figures",
        description="Train one configuration. Writes into OUT: checkpoint.pt (every epoch), "
                    "metrics.json (config, history, test BCE/KL/total and IWAE NLL) and the figures as PNG. "
                    "Data come from $VAECORE_DATA (or --data).")
    train.add_argument("params", type=Path, help="a params/*.yaml file")
    train.add_argument("--out", type=Path, required=True, help="output folder")
    train.add_argument("--epochs", type=int, help="override the config's epochs")
    train.add_argument("--device", choices=["cpu", "cuda"], help="override the config's device")
    train.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    train.add_argument("--data", type=Path, help="data folder (default: $VAECORE_DATA)")
    return train


def _sweep_parser(commands) -> argparse.ArgumentParser:
    """``vaecore sweep``: the notebook executed per params file on a cluster."""
    sweep = commands.add_parser(
        "sweep", help="execute the experiment notebook with papermill for each params file",
        description="Execute the experiment notebook once per params file into OUTDIR/<name>.ipynb, "
                    "with that run's metrics in OUTDIR/<name>.json, as one task each on a Dask cluster: "
                    "a local one of --workers processes, the one of --scheduler, or Slurm jobs with --slurm "
                    "(dask-jobqueue; partition, account, walltime, cores and memory per job from its "
                    "configuration, ~/.config/dask/jobqueue.yaml). Skips configurations "
                    "whose executed notebook, metrics and weights are complete and were computed from the same "
                    "params file, notebook and package code, by content (a clone's clocks play no part). Into the book's folders only configurations at the report's "
                    "protocol are swept (300 epochs on all the images, as Table 1); others are named and left out.")
    sweep.add_argument("params", type=Path, nargs="+", help="params/*.yaml files")
    sweep.add_argument("--notebook", type=Path, default=Path("book/experiment.ipynb"))
    sweep.add_argument("--outdir", type=Path, default=Path("book/experiments"))
    sweep.add_argument("--workers", type=int,
                       help="worker processes of the local cluster, one configuration at a time each, "
                            "with cores/workers threads (default 1)")
    sweep.add_argument("--scheduler", default=os.environ.get("VAECORE_SCHEDULER"),
                       help="address of a running Dask scheduler, tcp://HOST:PORT, whose workers run the "
                            "configurations instead (default: $VAECORE_SCHEDULER); start them with "
                            "--resources notebook=1")
    sweep.add_argument("--slurm", action="store_true",
                       help="run the configurations as Slurm jobs of one worker each (a GPU each with --device "
                            "cuda), cancelled when the sweep ends")
    sweep.add_argument("--max-jobs", type=int, default=10,
                       help="with --slurm: at most this many jobs at once, one per configuration (default 10)")
    sweep.add_argument("--partition", help="with --slurm: the partition (default: jobqueue.slurm.queue, else "
                                           "Slurm's default)")
    sweep.add_argument("--walltime", help="with --slurm: each job's time limit, as HH:MM:SS (default: "
                                          "jobqueue.slurm.walltime)")
    sweep.add_argument("--wait", type=float, default=60,
                       help="seconds to wait for the first worker of --scheduler or Slurm job, and for a new "
                            "one after all have left (default 60)")
    sweep.add_argument("--force", action="store_true", help="rerun up-to-date configurations too")
    sweep.add_argument("--retrain", action="store_true",
                       help="train configurations that have no checkpoint even where the book ships their "
                            "weights (by default their pages evaluate those weights)")
    sweep.add_argument("--device", choices=["cpu", "cuda"], help="override the params files' device")
    sweep.add_argument("--record", type=Path,
                       help="write the sweep's wall-clock and per-configuration minutes to this JSON file")
    return sweep


def _evaluate_parser(commands) -> argparse.ArgumentParser:
    """``vaecore evaluate``: a model's test numbers, without training."""
    evaluate = commands.add_parser(
        "evaluate", help="evaluate a shipped or trained model on the test set, without training",
        description="Load a model (a shipped one by name, e.g. n64-beta0p2, or a checkpoint.pt or weights "
                    "file) and print its test-set BCE, KL and total, and with --iwae-k its IWAE estimate "
                    "of -log p(x), as JSON.")
    evaluate.add_argument("model", help="a shipped model's name (a params file's stem) or a .pt file")
    evaluate.add_argument("--iwae-k", type=int, help="importance samples per test image for -log p(x)")
    evaluate.add_argument("--data", type=Path, help="data folder (default: $VAECORE_DATA)")
    return evaluate


def _bench_parser(commands) -> argparse.ArgumentParser:
    """``vaecore bench``: the trainer timed against its peers and the machine."""
    bench = commands.add_parser(
        "bench", help="time training and evaluation against the peers and the machine's matmul speed",
        description="Times training epochs of the report's n=64 model with vaecore's trainer, pythae's "
                    "BaseTrainer (when installed; interleaved with vaecore's) and a loop in the style of "
                    "pytorch/examples (torchvision Dataset + DataLoader), profiles a training step, and "
                    "times a page's evaluation: the IWAE estimate, the t-SNE map and the other figures. "
                    "Prints the times, GFLOP/s against the matmul ceiling and, last, 'speedup: X.XX' "
                    "over the pytorch/examples loop.")
    bench.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    bench.add_argument("--epochs", type=int, default=3,
                       help="timed epochs of vaecore's and pythae's trainers (the medians count)")
    bench.add_argument("--eval-images", type=int, default=500,
                       help="test images the IWAE estimate is timed on; 0 skips the evaluation")
    bench.add_argument("--train-images", type=int,
                       help="time epochs over the first TRAIN_IMAGES training images (default: all 60,000)")
    bench.add_argument("--data", type=Path, help="data folder (default: $VAECORE_DATA)")
    bench.add_argument("--json", type=Path, help="also write the measurements to this JSON file")
    return bench


def _explorer_parser(commands) -> argparse.ArgumentParser:
    """``vaecore explorer``: the explorer page's networks as JavaScript."""
    explorer = commands.add_parser(
        "explorer", help="export the shipped networks as JavaScript for the book's explorer page",
        description="Write the decoder of every model the book's 'Explore the models' page shows "
                    "(n = 2 and n = 64 at seed 0, n = 1) to OUT/<name>.js, and the encoders of the n = 2 models "
                    "to OUT/<name>.encoder.js: scripts that set window.vaecoreWeights[...], float32 for n <= 2 "
                    "and float16 for n = 64, each with the SHA-256 of the shipped .pt it came from, written "
                    "atomically. Run it after a shipped model changes; it says when book/explore.ipynb must "
                    "be executed again too.")
    explorer.add_argument("--out", type=Path, help="output folder (default: book/_explorer/explorer/models)")
    return explorer


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "quiet", False):
        os.environ["VAECORE_PROGRESS"] = "lines"  # reaches the kernels of a sweep too
    try:
        from vaecore.progress import mode

        mode(None)  # a $VAECORE_PROGRESS it does not know is named before anything starts
        return {"train": _train, "sweep": _sweep, "evaluate": _evaluate, "bench": _bench,
                "explorer": _explorer}[args.command](args)
    except VaecoreError as error:
        print(f"vaecore: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vaecore: interrupted{_resume_hint(args)}", file=sys.stderr)
        return 130


def _train(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    from vaecore.experiment import check_runnable, run
    from vaecore.folder import locked, write_atomically
    from vaecore.plots import all_figures

    config = Config.from_yaml(args.params)
    overrides = {"epochs": args.epochs, "device": args.device}
    config = dataclasses.replace(config, **{k: v for k, v in overrides.items() if v is not None})
    check_runnable(config)  # before the output folder is made
    with locked(args.out):  # run() takes it too; held here over the figures as well
        if (args.out / "checkpoint.pt").exists() and not args.resume:
            raise VaecoreError(f"{args.out / 'checkpoint.pt'} exists: pass --resume, or choose another --out")
        result = run(config, args.out, data_root=args.data, shipped=False)
        for name, figure in all_figures(result.model, result.history, result.test_set).items():
            write_atomically(args.out / f"{name}.png", lambda file: figure.savefig(file, dpi=120, format="png"))
            pyplot.close(figure)
    keys = ("test_recon", "test_kl", "test_total", "test_iwae_nll")
    print(json.dumps({key: round(result.metrics[key], 3) for key in keys}))
    return 0


def _resume_hint(args: argparse.Namespace) -> str:
    """How to continue an interrupted ``vaecore train``: its own command line with --resume."""
    if args.command != "train":
        return ""
    command = ["vaecore", "train", str(args.params), "--out", str(args.out)]
    for option in ("epochs", "device", "data"):
        if getattr(args, option) is not None:
            command += [f"--{option}", str(getattr(args, option))]
    kept = (f"the finished epochs are kept in {args.out}: continue" if (args.out / "checkpoint.pt").exists()
            else "no epoch had finished: start again")
    return f"; {kept} with {shlex.join([*command, '--resume'])}"


def _sweep(args: argparse.Namespace) -> int:
    from vaecore.sweep import Interrupted, sweep

    slurm = {"max_jobs": args.max_jobs, "partition": args.partition, "walltime": args.walltime}
    if args.slurm and args.scheduler:
        raise VaecoreError(f"--slurm and --scheduler {args.scheduler} (or $VAECORE_SCHEDULER) both give the "
                           f"sweep's cluster: give one of them")
    if not args.slurm and (args.partition or args.walltime):
        raise VaecoreError("--partition and --walltime are for Slurm jobs: add --slurm")
    if args.slurm and args.max_jobs < 1:
        raise VaecoreError(f"--max-jobs must be 1 or more, got {args.max_jobs}")
    if (args.scheduler or args.slurm) and args.workers is not None:
        where = f"the workers of {args.scheduler}" if args.scheduler else "Slurm jobs of one worker each (--max-jobs)"
        print(f"vaecore: note: --workers is ignored: {where} run the sweep", file=sys.stderr)
    try:
        failed = sweep(args.params, notebook=args.notebook, outdir=args.outdir,
                       workers=1 if args.workers is None else args.workers, force=args.force, record=args.record,
                       device=args.device, scheduler=args.scheduler, retrain=args.retrain, wait=args.wait,
                       slurm=slurm if args.slurm else None)
    except Interrupted as stop:
        where = "" if stop.local else " (those already running on the cluster's workers finish there)"
        print(f"vaecore: interrupted: {', '.join(stop.unfinished)} did not finish{where}; "
              f"rerun the same command to resume them", file=sys.stderr)
        return 130
    except KeyboardInterrupt:  # before anything started
        print("vaecore: interrupted", file=sys.stderr)
        return 130
    return 1 if failed else 0


def _evaluate(args: argparse.Namespace) -> int:
    from vaecore.data import load
    from vaecore.evaluate import elbo, iwae_nll
    from vaecore.experiment import check_finite
    from vaecore.weights import load_with_config

    model, config = load_with_config(args.model)
    if args.iwae_k is not None and args.iwae_k < 1:
        raise VaecoreError(f"--iwae-k must be >= 1, got {args.iwae_k}")
    x = load(config.dataset, train=False, root=args.data, size=config.test_size).x
    terms = elbo(model, x, config)
    result = {"test_recon": terms.recon, "test_kl": terms.kl, "test_total": terms.total}
    if args.iwae_k:
        result["test_iwae_nll"] = iwae_nll(model, x, config, k=args.iwae_k, progress=True)
    check_finite(result, f"the model {args.model}")
    print(json.dumps({key: round(value, 4) for key, value in result.items()}))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from vaecore.bench import bench

    if args.epochs < 1 or args.eval_images < 0 or (args.train_images is not None and args.train_images < 1):
        raise VaecoreError(f"--epochs and --train-images must be >= 1 and --eval-images >= 0, got {args.epochs}, "
                           f"{args.train_images} and {args.eval_images}")
    result = bench(device=args.device, epochs=args.epochs, root=args.data, eval_images=args.eval_images,
                   train_images=args.train_images)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


def _explorer(args: argparse.Namespace) -> int:
    from vaecore import explorer

    for path in explorer.export_all(args.out):
        print(f"{path} ({path.stat().st_size / 1e6:.2f} MB)")
    if args.out is None and (names := explorer.stale()):
        print(f"vaecore: note: {explorer.advice(names, exported=True)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
