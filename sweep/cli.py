"""Command line: ``sweep run|trial|retrain|report|analyze|resume|status``. Parses, calls one function, prints.

Bad input (config, data, folders) exits with status 2 and one line on stderr, before any trial starts.
Ctrl-C, SIGTERM and SIGHUP exit with 130, 143 and 129 and one line naming the folder to resume
(``sweep.runtime.signals``). A folder that cannot be written during the work (a full disk) exits with 74 and
one line naming the file and the command that goes on (``sweep.store.disk_faults``). A closed stdout ends the
printing only (``sweep.monitor.stdout``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sweep.monitor.stdout import say, tell
from sweep.runtime import signals, token
from sweep.store.disk_faults import EXIT_IO_ERROR, CannotWrite
from trainables.errors import InputError, RunFailed
from trainables.quiet import quiet_environment

if TYPE_CHECKING:
    from sweep.config.experiment import ExperimentConfig
    from sweep.workflow.finish import ExperimentResult

log = logging.getLogger("sweep")
EXIT_BAD_INPUT = 2
EXIT_RUN_FAILED = 1  # a loss that turned NaN, no trial with a score, none feasible, a retrain that raised


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sweep", description="Adaptive-layer hyperparameter sweeps on Ray Tune.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="sweep, retrain the best config and the defaults, report")
    run.add_argument("config", help="experiment YAML, e.g. search_spaces/smoke.yaml")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set train.batch_size=32 (repeatable)",
    )
    run.add_argument(
        "--results-dir", help="where the experiment folder goes: a path or a URI such as s3://bucket/sweeps"
    )
    run.add_argument(
        "--resume-if-exists",
        action="store_true",
        help="finish the newest experiment folder an earlier run of this same config started (a job run again "
        "after its driver died) instead of starting a new one",
    )
    _address_option(run)
    _output_options(run)

    trial = commands.add_parser("trial", help="train one config locally, no scheduler, print the metrics")
    trial.add_argument("config")
    trial.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")

    for name, text in (
        ("resume", "finish a sweep whose driver died: keep finished trials, rerun interrupted ones, then retrain"),
        ("retrain", "retrain the best config and the defaults of a finished sweep, then report"),
        ("report", "rewrite report.json, report.md and the plots of a retrained experiment folder"),
        ("analyze", "draw the plots of an experiment folder (running, crashed or done); link them from report.md"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("dir", help="experiment folder (path or URI), e.g. results/smoke-20260101-120000")
        if name not in ("report", "analyze"):
            _address_option(sub)
        if name in ("resume", "retrain"):
            _output_options(sub, evaluations=name == "resume")
            sub.add_argument(
                "--trust-tracking-uri",
                action="store_true",
                help="log to the MLflow server the folder's config.yaml names with this machine's MLflow "
                "credentials, even where it is not MLFLOW_TRACKING_URI",
            )
        if name == "retrain":
            sub.add_argument(
                "--set",
                dest="overrides",
                action="append",
                default=[],
                metavar="KEY=VALUE",
                help="retrain.* or verdict.*, saved to the folder's config.yaml, e.g. "
                "--set retrain.arms=[best,defaults,plain,untrained] (repeatable); finished runs are kept",
            )

    status = commands.add_parser("status", help="a running, finished or crashed sweep at a glance")
    status.add_argument("dir", help="experiment folder (path or URI)")
    status.add_argument("--json", action="store_true", help="print it as one JSON object")

    simulate = commands.add_parser(
        "simulate", help="replay a recorded sweep's curves through the real scheduler in virtual time"
    )
    simulate.add_argument("dir", help="experiment folder of a finished or crashed sweep")
    simulate.add_argument("--workers", type=int, nargs="+", metavar="N", help="workers (default: as recorded)")
    simulate.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="scheduler.* or search.max_concurrent, e.g. --set scheduler.reduction_factor=3 (repeatable)",
    )
    simulate.add_argument("--bootstrap", type=int, metavar="K", help="replay K trials resampled from the recorded")
    simulate.add_argument("--seed", type=int, default=0, help="seed of --bootstrap's resampling")
    return parser


def _output_options(parser: argparse.ArgumentParser, evaluations: bool = True) -> None:
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="also Ray's own output: Tune's status tables, its start-up warnings and each failed trial's traceback",
    )
    if evaluations:
        parser.add_argument("--evaluations", action="store_true", help="a line per STS-dev evaluation of each trial")


def _address_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--address",
        help="an existing Ray cluster: auto, HOST:PORT, ray://HOST:10001, or http://HOST:8265 to run this "
        "command there as a Ray job (default: RAY_ADDRESS, else a Ray started in this process)",
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``sweep`` and ``python -m sweep``; returns the exit status (called with ``argv``, as
    tests do, it returns after a stop signal too, rather than ending the process)."""
    argv_given = argv
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    # The sweep's own notices; other libraries' only from warnings up (no font-cache or study-created lines).
    logging.basicConfig(format="%(name)s: %(message)s", level=logging.WARNING)
    log.setLevel(logging.INFO)
    # Read by tqdm and the tokenizers when imported: no library progress bars (the model card's, the
    # datasets') among the lines this command prints, here and in the workers of a Ray it starts.
    quiet_environment()
    # Before Ray is first imported, which reads it once: this machine's Ray token goes to the clusters
    # this command joins, as `ray start` would have turned it on (see sweep.runtime.token).
    token.adopt_local_token()
    try:
        with signals.handled():
            return _dispatch(args, argv)
    except signals.Interrupted as stop:
        tell(f"sweep: {stop}")
        if argv_given is None:
            # A signal sent to the whole process group (a terminal's Ctrl-C, `timeout`, a job's stop) has
            # taken down the local Ray's own processes too; Ray's exit handler would then wait a minute
            # for its head and exit 1. The files are written and the trials stopped: leave now.
            from sweep.runtime.local_ray import stop_local_ray

            stop_local_ray()
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(OSError):  # a pipe or terminal gone with the session
                    stream.flush()
            os._exit(stop.exit_status)
        return stop.exit_status
    except InputError as error:
        tell(f"sweep: error: {error}")
        return EXIT_BAD_INPUT
    except RunFailed as error:
        tell(f"sweep: error: {error}")
        return EXIT_RUN_FAILED
    except CannotWrite as error:
        tell(f"sweep: error: {error}")
        return EXIT_IO_ERROR


def _dispatch(args: argparse.Namespace, argv: list[str]) -> int:
    # Imported here so `sweep --help` and bad-argument errors answer without loading torch and Ray.
    from sweep.config.experiment import load_config
    from sweep.runtime.cluster import check_address, given_address, is_job_api
    from sweep.store.files import is_uri

    if args.command == "status":
        from sweep.monitor.status import status_lines, sweep_status

        status = sweep_status(args.dir)
        say(json.dumps(status.model_dump(mode="json"), indent=2) if args.json else "\n".join(status_lines(status)))
        return 0
    if args.command == "analyze":
        from sweep.workflow.commands import analyze_experiment

        result = analyze_experiment(args.dir)
        for name in result.plots:
            say(f"{args.dir.rstrip('/')}/{name}")
        if result.report is None:
            say("no retrain yet, so no depth plot and no report; `sweep retrain DIR` adds both")
            return 0
        _print_summary(args.dir, result)
        return 0
    if args.command == "simulate":
        from sweep.simulate.summary import simulate_experiment
        from sweep.store.folder import SIMULATE_JSON, SIMULATE_MD, SIMULATE_PLOT

        command = shlex.join(["python", "-m", "sweep", *argv])
        simulation = simulate_experiment(args.dir, args.workers, args.overrides, args.bootstrap, args.seed, command)
        say(simulation.markdown.split("\n![")[0].rstrip())  # the table and notes, without the image link
        for name in (SIMULATE_JSON, SIMULATE_MD, SIMULATE_PLOT):
            say(f"{args.dir.rstrip('/')}/{name}")
        return 0
    # Only the commands that join a cluster follow RAY_ADDRESS: `report` and `trial` never start Ray.
    address, source = given_address(args.address) if hasattr(args, "address") else (None, "--address")
    check_address(address, source)
    config: ExperimentConfig | None = None  # read by `run` and `trial` only
    if args.command in ("run", "trial"):
        config = load_config(args.config, args.overrides)
        results_dir = getattr(args, "results_dir", None)
        if results_dir is not None and not results_dir.strip():
            # `--results-dir "$OUT"` with OUT unset: the config's folder instead would ignore what was asked for.
            raise InputError(
                f"--results-dir {results_dir!r}: empty (an unset shell variable?); give a folder or a URI, or "
                "leave it out for the config's results_dir"
            )
        if results_dir is not None:  # a plain string, never read as YAML
            config = config.model_copy(update={"results_dir": results_dir})
    if is_job_api(address):
        from sweep.runtime.jobs import submit, without_address

        if config is not None and not is_uri(config.results_dir) and not Path(config.results_dir).is_absolute():
            log.warning(
                "results_dir %s is relative: on the cluster it lands in the job's copy of this folder; "
                "give an absolute shared path or a URI",
                config.results_dir,
            )
        return submit(str(address), without_address(argv), source=source)

    from sweep.monitor.progress import OutputOptions, quiet_ray

    output = OutputOptions(verbose=getattr(args, "verbose", False), evaluations=getattr(args, "evaluations", False))
    quiet_ray(output)
    from sweep.workflow.commands import (
        report_experiment,
        resume_experiment,
        retrain_experiment,
        run_experiment,
        run_single_trial,
    )

    if args.command == "trial":
        assert config is not None
        trial = run_single_trial(config, report=lambda row: say(json.dumps(_rounded(row))))
        say(
            json.dumps(
                {
                    "params": trial["params"],
                    "chosen_step": trial["chosen_step"],
                    "test": _rounded(trial["test"]),
                    "test_per_depth": [round(v, 4) for v in trial["test_per_depth"]],
                    "final_spearman_cosine": round(trial["final"]["spearman_cosine"], 4),
                    "final_per_depth": [round(v, 4) for v in trial["final_per_depth"]],
                },
                indent=2,
            )
        )
        return 0
    if args.command == "run":
        assert config is not None
        command = shlex.join(["python", "-m", "sweep", *argv])
        result = run_experiment(config, command, address=address, resume_if_exists=args.resume_if_exists, output=output)
        _print_summary(result.location, result)
        return _delivered_status(result)
    if args.command == "resume":
        result = resume_experiment(args.dir, address=address, output=output, trust_tracking_uri=args.trust_tracking_uri)
    elif args.command == "retrain":
        result = retrain_experiment(
            args.dir, address=address, trust_tracking_uri=args.trust_tracking_uri, overrides=args.overrides
        )
    else:
        result = report_experiment(args.dir)
        _print_summary(args.dir, result)
        return 0  # the report was asked for and written, whether or not the sweep delivers a model
    _print_summary(args.dir, result)
    return _delivered_status(result)


def _delivered_status(result: ExperimentResult) -> int:
    """0 where the run delivered a model; 1 where no trial was feasible, after the report is written: a script
    that goes on to pick up best_model/ must not take the run for a success."""
    return EXIT_RUN_FAILED if result.report is not None and result.report.get("no_feasible") else 0


def _print_summary(experiment_dir: str, result: ExperimentResult) -> None:
    """The report's answer in a few lines; ``experiment_dir`` as the user named the folder."""
    from sweep.report.comparison import attribution_lines, left_out, nothing_delivered, verdict_lines
    from sweep.store.folder import REPORT_MD

    report = result.report
    if report is None:  # a folder not yet retrained has no answer to sum up
        return
    trials = report["trials"]
    default = report["default"]["test"]
    say(f"experiment: {experiment_dir}")
    say(
        f"trials: {trials['total']} ({trials['completed']} completed, {trials['pruned']} pruned, "
        f"{trials['errored']} errored)"
    )
    constraint = report.get("constraint")
    if constraint:
        say(
            f"feasible: {constraint['feasible']} of {constraint['completed']} completed trials reached full-depth "
            f"STS-dev {constraint['threshold']:.4f} (the defaults' trial's minus {constraint['full_depth_margin']:g})"
        )
    nothing = nothing_delivered(report)
    if nothing is not None:  # no trial was feasible
        _print_nothing_delivered(experiment_dir, report, nothing)
        return
    say(f"best config: {json.dumps(report['best']['config'])}")
    say(f"best STS-dev spearman_cosine: {report['best']['sts_dev_spearman']:.4f}")
    lead = (report.get("noise") or {}).get("lead")
    if lead and lead["tie"]:
        say(
            f"  a tie within seed noise: it leads {lead['runner_up']} by {100 * lead['lead']:.2f} ×100 on the "
            f"objective, less than two single runs differ by ({100 * lead['noise']:.2f})"
        )
    seeds = report["seeds"]["retrain"]
    line = f"STS-test spearman_cosine ({len(seeds)} seed{'s' if len(seeds) > 1 else ''}): "
    line += f"best {report['test']['spearman_cosine']:.4f}"
    if default:
        line += f", reference defaults {default['spearman_cosine']:.4f}"
    line += f", untrained {report['untrained']['test']['spearman_cosine']:.4f}"
    say(line)
    if report.get("retrain_cost"):
        say(f"retrain: {report['retrain_cost']}")
    say(f"report: {experiment_dir.rstrip('/')}/{REPORT_MD}")
    if "attribution" in report:  # the loss settings' effect first where the search moved a trainer knob
        say("what caused the difference, STS-test spearman_cosine ×100 (depths: adjusted intervals):")
        for text in [*attribution_lines(report), *left_out(report)]:
            say(f"  {text}")
    elif report["verdict"] is not None:  # a report written before the arms existed
        say("verdict, best config − reference defaults, STS-test spearman_cosine ×100:")
        for text in verdict_lines(report):
            say(f"  {text}")
    judged = next((found for found in (report.get("attribution") or {}).values() if found), report["verdict"])
    if judged is not None:
        say(f"  ({judged['full']['method']})")
    if report["seeds"]["seen_by_sweep"]:
        say(f"note: retrain seed(s) {report['seeds']['seen_by_sweep']} are the sweep's own training seed")


def _print_nothing_delivered(experiment_dir: str, report: dict, nothing: str) -> None:
    """The end of the summary where no trial was feasible: the models that need no winner, then what
    report.md opens with (``nothing``), last."""
    from sweep.store.folder import REPORT_MD

    seeds = report["seeds"]["retrain"]
    default = report["default"]["test"]
    line = f"STS-test spearman_cosine ({len(seeds)} seed{'s' if len(seeds) > 1 else ''}): "
    line += f"reference defaults {default['spearman_cosine']:.4f}, " if default else ""
    say(line + f"untrained {report['untrained']['test']['spearman_cosine']:.4f}")
    if report.get("retrain_cost"):
        say(f"retrain: {report['retrain_cost']}")
    say(f"report: {experiment_dir.rstrip('/')}/{REPORT_MD}")
    say(nothing)
    say("  `sweep simulate DIR --set objective.full_depth_margin=...` says what a looser margin would pick")


def _rounded(row: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}
