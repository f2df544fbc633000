"""Grid search over learning rate × batch size × epochs, chosen by validation score.

`tune` trains every trial of a `Grid` with the one `training.train`, on one `Prepared`
data set (the CSV is read, split and tokenised once), and writes a folder that explains
itself::

    grid.json          the grid, the data fingerprint and the base config (checked on rerun)
    trials/<id>/       one complete run directory per finished trial (e.g. lr5e-4_b16_e4)
    leaderboard.csv    one row per trial, best first (also leaderboard.json)
    best/              a copy of the winning run; `evaluate` and `tag --model` take it
    summary.html       heat map of the score over lr × batch per epoch count, validation curves

Rerunning the same command resumes: a trial is finished iff its run directory exists
(train writes it atomically), so finished trials are kept and only the rest are trained.

Epoch reuse: when the learning rate at a step does not depend on the total number of
steps (``--schedule constant`` and ``--warmup-ratio 0``), the first k epochs of a longer
trial *are* the k-epoch trial (same seed, initialisation, batch order and dropout stream),
so the k-epoch run directory is written during the longer run instead of training it
again. With warm-up or a decaying schedule (the default) every trial trains on its own.
Nothing here reads the test split: the winner is chosen by the validation score that
`train` saves in each run's ``metrics.json``.

    grid       the axes, the trials they make, and the plan of `train` calls (epoch reuse)
    folder     the tune folder's files, resuming, and the leaderboard by validation metric
    summary    summary.html
    run        `tune` itself: trains the plan's trials and ranks them
"""

from .folder import (
    BEST_DIR,
    GRID_FILE,
    LEADERBOARD_CSV,
    LEADERBOARD_JSON,
    LOCK_FILE,
    SUMMARY_FILE,
    TRIALS_DIR,
    check_metric,
    higher_is_better,
    is_finished,
    score_keys,
)
from .grid import (AXES, VARIANT_AXES, Grid, Plan, PlannedRun, Trial, describe_repeated, format_lr, grid_cost, make_plan,
                   parse_grid)
from .run import Callback, TuneResult, check_trials, default_out, plan_tune, tune

__all__ = [
    "AXES",
    "BEST_DIR",
    "GRID_FILE",
    "LEADERBOARD_CSV",
    "LEADERBOARD_JSON",
    "LOCK_FILE",
    "SUMMARY_FILE",
    "TRIALS_DIR",
    "VARIANT_AXES",
    "Callback",
    "Grid",
    "Plan",
    "PlannedRun",
    "Trial",
    "TuneResult",
    "check_metric",
    "check_trials",
    "default_out",
    "describe_repeated",
    "format_lr",
    "grid_cost",
    "higher_is_better",
    "is_finished",
    "make_plan",
    "parse_grid",
    "plan_tune",
    "score_keys",
    "tune",
]
