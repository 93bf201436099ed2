"""``report.json``: every number of the experiment's summary, for programs and for ``report.md``.

report.md (see ``sweep.report.document``) is rendered from this dict alone, so both always agree.
"""

from __future__ import annotations

import statistics
from typing import Any

import pandas as pd

from sweep.config.arms import ATTRIBUTION, BEST, DEFAULTS, RUN_NAMES, UNTRAINED, headline_order, searched_trainer_knobs
from sweep.config.experiment import ExperimentConfig
from sweep.config.objective import summary
from sweep.config.search_space import RULES
from sweep.report.boundaries import boundary_warnings
from sweep.report.importance import importances
from sweep.report.noise import noise_summary
from sweep.report.verdict import resampled_spearman, verdicts
from sweep.store.folder import MODEL_DIR, REPORTS_FILE, RETRAIN_FILE, TRIALS_FILE
from sweep.store.frames import STATUSES, params_of, plain
from sweep.store.ranking import (
    CHOSEN_STEP,
    FEASIBLE,
    FULL_DEPTH,
    infeasible_line,
    infeasible_reason,
    none_feasible,
    pareto_front,
)
from sweep.store.records import ExperimentMeta, SeedRun, Untrained
from sweep.store.report_json import (
    ArmSummary,
    Attribution,
    BestTrial,
    DefaultArm,
    Delivered,
    NoFeasible,
    Recipe,
    Report,
    RunSummary,
    SearchedParam,
    Seeds,
    SeedSummary,
    TrialCounts,
    UntrainedScores,
    UntrainedSummary,
    Verdict,
)
from sweep.store.similarities import gold_scores, similarity_arrays
from trainables.errors import InputError
from trainables.metrics import METRIC_NAMES

LEADERBOARD_SIZE = 10
LOSS = "AdaptiveLayerLoss(MultipleNegativesRankingLoss)"


def _mean(values: list[float]) -> float:
    return float(statistics.fmean(values))


def _std(values: list[float]) -> float | None:
    """The spread over seeds; None for one seed, which has none (never a spread of 0)."""
    return float(statistics.stdev(values)) if len(values) > 1 else None


def summarise_runs(records: list[dict[str, Any]]) -> RunSummary:
    """Mean and spread over seeds of the STS-test metrics and the per-depth curve, of the delivered weights;
    per seed also the step chosen and the score the same run had at the end of its budget. ``records``:
    retrain.json's runs of one arm."""
    runs = [SeedRun.model_validate(record) for record in records]
    per_seed = [
        SeedSummary(
            seed=run.seed,
            metrics=run.test,
            per_layer=run.test_per_depth,
            chosen_step=run.chosen_step,
            steps=run.steps,
            final=run.final,
            final_per_layer=run.final_per_depth,
            sts_dev_chosen=run.sts_dev_chosen,
            sts_dev_final=run.sts_dev_final,
            objective_chosen=run.chosen,
        )
        for run in runs
    ]
    depths = range(len(runs[0].test_per_depth))
    return RunSummary(
        spearman_cosine=_mean([run.test["spearman_cosine"] for run in runs]),
        mean={name: _mean([run.test[name] for run in runs]) for name in METRIC_NAMES},
        std={name: _std([run.test[name] for run in runs]) for name in METRIC_NAMES},
        per_seed=per_seed,
        per_layer=[_mean([run.test_per_depth[d] for run in runs]) for d in depths],
        per_layer_std=[_std([run.test_per_depth[d] for run in runs]) for d in depths],
        final_spearman_cosine=_mean([run.final for run in runs]),
        final_per_layer=[_mean([run.final_per_depth[d] for run in runs]) for d in depths],
    )


def build_report(
    config: ExperimentConfig,
    trials: pd.DataFrame,
    standings: pd.DataFrame,
    retrained: dict[str, Any],
    similarities: pd.DataFrame,
    meta: ExperimentMeta,
    reports: pd.DataFrame,
) -> Report:
    """The report.json contents (see the README for every key; ``plots`` is left to the finishing step);
    ``standings`` are the pickable trials best first (``sweep.store.ranking.standings``), ``retrained`` is
    retrain.json's record, ``meta`` experiment.json's, ``reports`` every STS-dev evaluation (for the noise
    section)."""
    objective = config.objective
    winner = _winner(config, standings, retrained)
    best_config = params_of(winner) if winner is not None else None
    default = retrained["default_config"]
    counts = trials["status"].value_counts()
    attribution = _attribution(retrained, similarities, config, meta.n_layers)
    noise = noise_summary(retrained, standings, reports, objective)
    if winner is None:  # every completed trial falls short, so none leads the others as a winner
        noise["lead"] = None
    return Report(
        name=config.name,
        objective=summary(objective),
        model=config.model.reference,
        n_layers=meta.n_layers,
        depths=list(range(1, meta.n_layers + 1)),
        recipe=_recipe(config),
        scheduler=config.scheduler.model_dump(mode="json"),
        search_space=_search_space(config, default, best_config),
        trials=TrialCounts(
            total=len(trials),
            **{status: int(counts.get(status, 0)) for status in STATUSES},
            time_s=float(trials["time_s"].fillna(0).sum()),
        ),
        best=_best(winner, objective.metrics),
        no_feasible=_no_feasible(standings) if winner is None else None,
        leaderboard=_leaderboard(config, standings),
        constraint=_constraint(standings),
        noise=noise,
        pareto=_pareto(standings, config, _trial_id(winner)) if objective.target == "pareto" else None,
        importance=importances(config, standings),
        boundary_warnings=boundary_warnings(config.space, best_config) if best_config is not None else [],
        test=summarise_runs(retrained["best"]) if winner is not None else None,
        delivered=_delivered(retrained["best"][0]) if winner is not None else None,
        default=DefaultArm(config=default, test=summarise_runs(retrained["default"]) if retrained["default"] else None),
        default_is_best=bool(retrained["default_is_best"]) if winner is not None else None,
        untrained=_untrained(retrained["untrained"]),
        arms=_arms(retrained),
        attribution=attribution,
        attribution_order=headline_order(bool(searched_trainer_knobs(config.space))),
        verdict=_verdict(attribution["total"], config.verdict.margin),
        retrain_data=retrained.get("resampled_data"),
        retrain_cost=retrained.get("cost"),  # retrains written before the arms did not say it
        seeds=Seeds(sweep=[config.train.seed], retrain=config.retrain_seeds, seen_by_sweep=config.seeds_seen),
        model_path=MODEL_DIR if winner is not None else None,
        command=meta.command,
        plots=[],
    )


def _winner(config: ExperimentConfig, standings: pd.DataFrame, retrained: dict[str, Any]) -> pd.Series | None:
    """The trial the retrain trained (what ``select_best`` returns), or None where no trial is feasible;
    InputError where retrain.json was written from other frames or another config than these."""
    if standings.empty:  # the retrain had a winner to train, so the frames were not what it was picked from
        raise InputError(
            f"{TRIALS_FILE} has no trial that can win, yet {RETRAIN_FILE} retrained one; remove {TRIALS_FILE} "
            f"and {REPORTS_FILE}: `sweep resume DIR` rebuilds both from Ray Tune's state"
        )
    winner = None if none_feasible(standings) else standings.iloc[0]
    if (winner is None) != (retrained["best_config"] is None):  # objective.full_depth_margin edited since
        found = "no feasible trial" if winner is None else "a feasible trial"
        kept = "a winner" if winner is None else "no winner"
        raise InputError(f"{RETRAIN_FILE} retrained {kept}, yet the trials have {found}; rerun `sweep retrain DIR`")
    if winner is not None and params_of(winner) != retrained["best_config"]:
        raise InputError(f"{RETRAIN_FILE} holds another config than the trials pick; rerun `sweep retrain DIR`")
    seeds = [run["seed"] for run in retrained["best"] or retrained["default"] or []]
    if seeds and seeds != config.retrain_seeds:  # config.yaml edited since: the similarities are of other seeds
        raise InputError(
            f"{RETRAIN_FILE} holds seeds {seeds}, config.yaml's retrain.seeds are {config.retrain_seeds}; "
            "rerun `sweep retrain DIR`"
        )
    return winner


def _trial_id(winner: pd.Series | None) -> str | None:
    return str(winner["trial_id"]) if winner is not None else None


def _best(winner: pd.Series | None, metrics: list[str]) -> BestTrial | None:
    """The winner: its config, best STS-dev, and the evaluation that ranked it; None without one."""
    if winner is None:
        return None
    return BestTrial(
        trial_id=str(winner["trial_id"]),
        config=params_of(winner),
        sts_dev_spearman=float(winner["sts_dev_best"]),
        step=int(winner[CHOSEN_STEP]),
        objective={metric: float(winner[metric]) for metric in metrics},
        status=str(winner["status"]),
    )


def _no_feasible(standings: pd.DataFrame) -> NoFeasible:
    """Why nothing is delivered: the line the run said, the reason alone, and the constraint's figures."""
    limit = standings.attrs["constraint"]
    return NoFeasible(
        text=infeasible_line(limit, len(standings)),
        reason=infeasible_reason(limit),
        completed=len(standings),
        **limit.summary(),
    )


def _delivered(record: dict[str, Any]) -> Delivered:
    """The delivered model's own figures: the first seed's run, whose weights best_model holds."""
    run = SeedRun.model_validate(record)
    return Delivered(seed=run.seed, chosen_step=run.chosen_step, sts_dev=run.sts_dev, test=run.test)


def _untrained(record: dict[str, Any]) -> UntrainedSummary:
    """The base model before training, in the shape of the retrained ones' means."""
    scored = Untrained.model_validate(record)
    return UntrainedSummary(
        **{
            split: UntrainedScores(
                spearman_cosine=part.full["spearman_cosine"], mean=part.full, per_layer=part.per_depth
            )
            for split, part in (("sts_dev", scored.sts_dev), ("test", scored.test))
        }
    )


def arm_plan(retrained: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """retrain.json's arms: each one's config, whose runs it is and why; a record written before the
    arms existed holds the best config, the reference defaults (unless not retrained) and the untrained model."""
    if "arms" in retrained:
        return retrained["arms"]
    plan = {BEST: {"config": retrained["best_config"], "runs_of": BEST, "note": None}}
    if retrained["default"] is not None:
        same = retrained["default_is_best"]
        plan[DEFAULTS] = {
            "config": retrained["default_config"],
            "runs_of": BEST if same else DEFAULTS,
            "note": f"the same config as {BEST}: its runs" if same else None,
        }
    return plan | {UNTRAINED: {"config": None, "runs_of": UNTRAINED, "note": None}}


def _arms(retrained: dict[str, Any]) -> dict[str, ArmSummary]:
    """Every arm retrained: its config, whose runs it is, and its STS-test figures (means over seeds)."""
    arms = {}
    for name, arm in arm_plan(retrained).items():
        test = (
            _untrained(retrained[UNTRAINED]).test if name == UNTRAINED else summarise_runs(retrained[RUN_NAMES[name]])
        )
        arms[name] = ArmSummary(**arm, test=test)
    return arms


def _attribution(
    retrained: dict[str, Any], similarities: pd.DataFrame, config: ExperimentConfig, n_layers: int
) -> dict[str, Attribution | None]:
    """Each difference of ``sweep.config.arms.ATTRIBUTION`` on the sweep's objective and at every depth
    (``sweep.report.verdict``); None where ``retrain.arms`` left out one of its arms."""
    plan = arm_plan(retrained)
    seeds = config.retrain_seeds
    gold = gold_scores(similarities)
    weights = config.objective.depth_weights(n_layers)
    arrays: dict[str, Any] = {}
    draws: dict[str, Any] = {}  # each arm's Spearman on resampled test pairs, shared by its comparisons

    def scores(arm: str) -> Any:
        runs = plan[arm]["runs_of"]
        if runs not in arrays:
            arrays[runs] = similarity_arrays(similarities, RUN_NAMES[runs], seeds)
            draws[runs] = resampled_spearman(gold, arrays[runs])
        return arrays[runs]

    found: dict[str, Attribution | None] = {}
    for key, (minuend, subtrahend) in ATTRIBUTION.items():
        if minuend not in plan or subtrahend not in plan:
            found[key] = None
            continue
        minuend_scores, subtrahend_scores = scores(minuend), scores(subtrahend)
        paired_draws = (draws[plan[minuend]["runs_of"]], draws[plan[subtrahend]["runs_of"]])
        judged = verdicts(
            gold,
            minuend_scores,
            subtrahend_scores,
            weights=weights,
            margin=config.verdict.margin,
            draws=paired_draws,
            full_depth_margin=config.objective.full_depth_margin,
        )
        judged["objective"]["label"] = config.objective.describe_on_test()
        found[key] = Attribution(
            arms=[minuend, subtrahend],
            objective=judged["objective"],
            full=judged["full"],
            per_depth=judged["per_depth"],
        )
    return found


def _verdict(total: Attribution | None, margin: float) -> Verdict | None:
    """``attribution.total`` where it has always been: best vs the reference defaults."""
    if total is None:
        return None
    return Verdict(objective=total.objective, full=total.full, per_depth=total.per_depth, margin=margin)


def _recipe(config: ExperimentConfig) -> Recipe:
    """What every trial shares: the loss, the data and the fixed training settings."""
    return Recipe(
        loss=LOSS,
        data={split: source.model_dump(mode="json") for split, source in config.data},
        train=config.train.model_dump(mode="json"),
    )


def _search_space(
    config: ExperimentConfig, default: dict[str, Any], best: dict[str, Any] | None
) -> list[SearchedParam]:
    """Every parameter: what was searched, its reference default, the best value (None without a winner)
    and what it does."""
    space = config.space
    return [
        SearchedParam(
            param=key,
            searched=space[key].describe() if key in space and space[key].searched else None,
            default=default[key],
            best=best[key] if best is not None else None,
            role=rule.meaning,
        )
        for key, rule in RULES.items()
    ]


def _leaderboard(config: ExperimentConfig, candidates: pd.DataFrame) -> list[dict[str, Any]]:
    """The top trials by the selection rule (``points``, best first): the chosen evaluation's step and
    scores, and the values of the swept parameters."""
    searched = [key for key, param in config.space.items() if param.searched]
    return [
        {
            "trial_id": str(row["trial_id"]),
            "status": str(row["status"]),
            "step": int(row[CHOSEN_STEP]),
            **{metric: float(row[metric]) for metric in config.objective.metrics},
            "steps": int(row["steps"]),
            "params": {key: plain(row[key]) for key in searched},
            "feasible": bool(row[FEASIBLE]),
        }
        for _, row in candidates.head(LEADERBOARD_SIZE).iterrows()
    ]


def _constraint(candidates: pd.DataFrame) -> dict[str, Any] | None:
    """objective.full_depth_margin as measured (None without one): the threshold, how many completed trials
    met it, and each one's full-depth STS-dev at its chosen evaluation and whether it is feasible."""
    limit = candidates.attrs.get("constraint")
    if limit is None:
        return None
    feasible = candidates[FEASIBLE].astype(bool)
    return {
        **limit.summary(),
        "completed": len(candidates),
        "feasible": int(feasible.sum()),
        "trials": {
            str(row["trial_id"]): {"full_depth": plain(row[FULL_DEPTH]), "feasible": bool(row[FEASIBLE])}
            for _, row in candidates.iterrows()
        },
    }


def _pareto(candidates: pd.DataFrame, config: ExperimentConfig, picked: str | None) -> dict[str, Any]:
    """The front of the trials' points: each point one evaluation of one trial (its step given); ``picked``
    None where no trial was feasible, so none was retrained."""
    front = pareto_front(candidates, config.objective)
    return {
        "pick": config.objective.pick,
        "picked": picked,
        "front": [
            {
                "trial_id": str(row["trial_id"]),
                "step": int(row[CHOSEN_STEP]),
                **{metric: float(row[metric]) for metric in config.objective.metrics},
            }
            for _, row in front.iterrows()
        ],
    }
