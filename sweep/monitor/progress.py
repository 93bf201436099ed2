"""What a sweep prints while it runs: one plain line per trial event and a progress line, through Ray
Tune's own reporting hooks, instead of Tune's status tables (which ``--verbose`` brings back).

Each is one line on stdout, the same on a terminal and in a job's log; README ("What a run prints")
shows a real run's.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from ray.tune import Callback

from sweep.monitor.stdout import say
from sweep.monitor.time_left import duration, estimate_left
from trainables.internals import RAY_TOKEN_SETUP_LOGGER, keep_trial_tracebacks_out, use_tune_output_engine
from trainables.metrics import FAILURE, RANKED
from trainables.selection import Selection

# How the progress line says that PASHA ranked a trial at its top rung.
RANKED_HOW = " (ranked at the top rung: the ranking had settled)"
PREFIX = "sweep: "  # the same as the driver's log lines, so the sweep's own lines read as one voice


@dataclass(frozen=True)
class OutputOptions:
    """How much a sweep prints while it runs (``sweep run|resume`` flags)."""

    verbose: bool = False  # Ray's own status tables and warnings instead of these lines (--verbose)
    evaluations: bool = False  # a line per STS-dev evaluation (--evaluations): 4 per trial even in the smoke run
    every_s: float = 60.0  # a progress line at least this often while trials run, besides one per trial end

    @property
    def tune_verbosity(self) -> int:
        """``RunConfig(verbose=...)``: Tune's tables with ``verbose``, else nothing of Tune's own."""
        return 1 if self.verbose else 0

    def tune_output_engine(self) -> None:
        """Choose Tune's output engine for the next ``fit`` (it reads its switch then).

        Its current engine prints its start-up table even at ``verbose=0``, and hands its hooks to the
        first of its reporters among the callbacks only, so another reporter there leaves its own half
        set up (it raises on the first trial error). Its earlier engine prints nothing at ``verbose=0``
        and leaves these lines to a plain callback; ``verbose`` keeps the current engine's tables.
        """
        use_tune_output_engine(new=self.verbose)


def quiet_ray(options: OutputOptions) -> None:
    """Keep Ray's and Optuna's notices out of the default output; real errors stay (``--verbose``: all of it).

    Call before Ray starts. Ray's token-auth notice is a WARNING of its own logger on every local start;
    Tune logs each failed trial's whole traceback (the event line names the trial's error.txt instead);
    Optuna announces every study it creates.
    """
    if options.verbose:
        return
    logging.getLogger(RAY_TOKEN_SETUP_LOGGER).setLevel(logging.ERROR)
    keep_trial_tracebacks_out()  # read when Tune's controller starts
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def emit(line: str) -> None:
    """One line on stdout, at once: a job's log or a pipe shows it as it happens."""
    say(PREFIX + line)


class SweepProgress(Callback):
    """A Tune callback printing one line per trial event, and a progress line after each trial ends and
    every ``options.every_s`` seconds.

    ``planned`` trials are this ``fit``'s (a resume's are what is left; ``earlier`` the trials finished
    before it), written into ``location``. The best so far follows the report's rule
    (``sweep.config.objective``): a trial counts by its best evaluation by ``selection``, and only completed
    trials win; until one has completed, the best of all evaluations so far is shown, marked provisional.
    """

    def __init__(
        self,
        planned: int,
        concurrency: int,
        selection: Selection,
        searched: list[str],
        options: OutputOptions | None = None,
        earlier: int = 0,
        location: str = "",
    ):
        self.planned, self.concurrency, self.earlier, self.location = planned, concurrency, earlier, location
        self.selection, self.searched = selection, list(searched)
        self.options = options or OutputOptions()
        self._started_at: float | None = None
        self._last_line_at = 0.0
        self._trial_started: dict[str, float] = {}  # trial id -> clock at its first start
        self._ended: dict[str, tuple[str, float]] = {}  # trial id -> (outcome, seconds it took)
        self._best_row: dict[str, dict[str, Any]] = {}  # trial id -> its best evaluation so far

    # Tune's hooks.
    def setup(
        self, stop: Any = None, num_samples: int | None = None, total_num_samples: int | None = None, **info: Any
    ) -> None:
        self._started_at = self._last_line_at = time.monotonic()
        where = f", into {self.location}" if self.location else ""
        emit(f"Ray Tune runs {self.planned} trials, {self.concurrency} at a time{where}")

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        if trial.trial_id in self._trial_started:
            return  # a restart after an error: the recover line said so
        self._trial_started[trial.trial_id] = time.monotonic()
        values = " ".join(f"{key}={_value(trial.config.get(key))}" for key in self.searched)
        number = self.earlier + len(self._trial_started)
        emit(f"trial {number}/{self.earlier + self.planned} {trial.trial_id} started: {values}")

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        if self.selection.better(result, self._best_row.get(trial.trial_id)):
            self._best_row[trial.trial_id] = dict(result)
        if self.options.evaluations and self.selection.key(result) is not None:
            best = self._best_row[trial.trial_id]
            emit(
                f"trial {trial.trial_id} step {_steps(result)}: {self._score(result)} "
                f"(its best {self._score(best)} at step {best.get('step')})"
            )

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        result = trial.last_result or {}
        if result.get(FAILURE):
            self._end(trial, "errored", f"errored at step {_steps(result)}: {result[FAILURE]}")
        else:
            outcome = "completed" if result.get("completed") else "pruned"
            # Before its last step, a completed trial ended itself on scheduler.patience, or the scheduler
            # ranked it at its top rung (sweep.tuning.schedulers.MarkRanked says which).
            early = outcome == "completed" and result.get("step", 0) < result.get("total_steps", 0)
            how = (RANKED_HOW if result.get(RANKED) else " (no new best: ended itself)") if early else ""
            self._end(trial, outcome, f"{outcome} at step {_steps(result)}{how}, {self._trial_best(trial.trial_id)}")
        self._progress(trials)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        result = trial.last_result or {}
        where = f" after step {_steps(result)}" if "step" in result else ""
        self._end(trial, "errored", f"errored{where}: {_error_line(trial)} (whole error: {_error_path(trial)})")
        self._progress(trials)

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        attempt = trial.run_metadata.num_failures
        emit(f"trial {trial.trial_id} raised (attempt {attempt}), starting it again: {_error_line(trial)}")
        self._best_row.pop(trial.trial_id, None)  # the retry starts from step 1; its earlier rows do not count

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        running = any(trial_id not in self._ended for trial_id in self._trial_started)
        if running and time.monotonic() - self._last_line_at >= self.options.every_s:
            self._progress(trials)

    # The lines.
    def _end(self, trial: Any, outcome: str, text: str) -> None:
        started = self._trial_started.get(trial.trial_id, time.monotonic())
        took = time.monotonic() - started
        self._ended[trial.trial_id] = (outcome, took)
        emit(f"trial {trial.trial_id} {text} ({duration(took)})")

    def _progress(self, trials: list) -> None:
        """The sweep at a glance: counts, the best so far, elapsed and left."""
        self._last_line_at = now = time.monotonic()
        outcomes = [outcome for outcome, _ in self._ended.values()]
        running = [t for t in self._trial_started if t not in self._ended]
        done = len(outcomes)
        pending = max(self.planned - done - len(running), 0)
        counts = ", ".join(f"{outcomes.count(name)} {name}" for name in ("completed", "pruned", "errored"))
        earlier = f"; {self.earlier} before this resume" if self.earlier else ""
        left = estimate_left(
            pending,
            [took for _, took in self._ended.values()],
            [now - self._trial_started[t] for t in running],
            self.concurrency,
        )
        if not running and not pending:
            left_text = "no trial left"
        elif left is None:
            left_text = "time left known once a trial ends"
        else:
            left_text = f"about {duration(left)} left"
        emit(
            f"{self.earlier + done}/{self.earlier + self.planned} done ({counts}{earlier}), {len(running)} running, "
            f"{pending} pending; {self._best_text()}; {duration(now - (self._started_at or now))} elapsed, "
            f"{left_text}"
        )

    def _best_text(self) -> str:
        completed = [t for t, (outcome, _) in self._ended.items() if outcome == "completed"]
        pool = [t for t in completed if t in self._best_row]
        provisional = not pool
        if provisional:
            pool = [t for t in self._best_row if self._ended.get(t, ("",))[0] != "errored"]
        if not pool:
            return "no score yet"
        best = max(pool, key=lambda t: self.selection.key(self._best_row[t]) or ())  # (): a row it cannot rank
        note = ", provisional: none completed yet" if provisional else ""
        return f"best {self._score(self._best_row[best])} ({best}{note})"

    def _trial_best(self, trial_id: str) -> str:
        row = self._best_row.get(trial_id)
        return f"best {self._score(row)} at step {row.get('step')}" if row else "no score"

    def _score(self, row: dict[str, Any]) -> str:
        return " / ".join(f"{float(row[metric]):.4f}" for metric in self.selection.metrics)


def _steps(result: dict[str, Any]) -> str:
    return f"{result.get('step', '?')}/{result.get('total_steps', '?')}"


def _value(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _error_path(trial: Any) -> str:
    return f"{trial.path}/error.txt" if trial.path else "the trial's error.txt"


def _error_line(trial: Any) -> str:
    """The last line of the trial's error (the exception itself), from the file Tune wrote it to."""
    try:
        with open(trial.error_file, encoding="utf-8") as handle:
            lines = [line.strip() for line in handle if line.strip()]
    except (OSError, TypeError):
        return "the trial raised"
    return lines[-1][:300] if lines else "the trial raised"
