"""The finishing step every command that ends an experiment ends with: from what it has loaded, the
report built once in memory, the plots drawn from it, report.json and report.md written once, and the
delivered model's card brought up to date with them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sweep.config.experiment import ExperimentConfig
from sweep.report.document import render_report_md
from sweep.report.figures import draw_plots
from sweep.report.model_card import render_card
from sweep.report.summary import build_report
from sweep.store.folder import MODEL_DIR, ExperimentFolder, Retrained, plot_title
from sweep.store.ranking import standings
from sweep.store.records import ExperimentMeta
from sweep.store.report_json import Plot

log = logging.getLogger("sweep")


@dataclass(frozen=True)
class ExperimentResult:
    """What ``run``, ``resume``, ``retrain``, ``report`` and ``analyze`` return."""

    location: str  # the experiment folder: a local path, or the URI it was given as
    report: dict[str, Any] | None  # report.json's contents; None before the retrain
    plots: list[str]  # the plot files drawn, in the order report.md shows them


def finish(
    experiment: ExperimentFolder,
    config: ExperimentConfig,
    meta: ExperimentMeta | None,
    trials: pd.DataFrame,
    reports: pd.DataFrame,
    retrained: Retrained | None,
) -> ExperimentResult:
    """Report, plots and the report's files from the frames and the retrain already in memory; without a
    retrain (a running or crashed sweep) the plots only, and ``meta`` may be None."""
    ranking = standings(trials, reports, config.objective, config.reference)
    if retrained is None or meta is None:
        plots = draw_plots(experiment, config, trials, reports, ranking, None)
        return ExperimentResult(experiment.location, None, plots)
    report = build_report(config, trials, ranking, retrained.record, retrained.similarities, meta, reports)
    plots = draw_plots(experiment, config, trials, reports, ranking, report.model_dump(mode="json"))
    report.plots = [Plot(file=name, title=plot_title(name)) for name in plots]
    written = report.model_dump(mode="json")  # what report.json holds, and all that report.md and the card read
    experiment.write_report(written, render_report_md(written))
    if report.model_path is not None:
        _update_card(experiment, written)
    elif experiment.has_model():  # no trial is feasible now, yet an earlier retrain (another margin) kept one
        log.warning(
            "%s/%s is left from an earlier retrain: no trial is feasible now, so this report delivers no model; "
            "remove it, so that nothing picks it up",
            experiment.location,
            MODEL_DIR,
        )
    return ExperimentResult(experiment.location, written, plots)


def _update_card(experiment: ExperimentFolder, report: dict[str, Any]) -> None:
    """The delivered model's card brought up to date with the report; a warning where the model is gone."""
    if experiment.has_model():
        experiment.write_model_card(render_card(experiment.model_card(), report))
    else:  # removed or never copied: the report still stands, but what it delivers is gone
        log.warning(
            "%s/%s is missing: the report names a model the folder lacks; `sweep retrain %s` trains it again "
            "(its one run; the other runs are kept)",
            experiment.location,
            MODEL_DIR,
            experiment.location,
        )
