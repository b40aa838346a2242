"""Learning-rate schedules of the real training tasks, as a factor on the configured rate per epoch.

Recorded sweeps vary the schedule per configuration so that benchmark curves show what schedules do
to a learning curve: a plateau that lifts when the rate drops (``step``), a late rise as the rate
anneals (``cosine``), a slow start (``warmup-cosine``).  A schedule is a pure function of the epoch
and the run's length, so a paused and restored trainer needs no schedule state: ``epochs_done`` says
where it is.
"""

from __future__ import annotations

import math

#: The schedules a configuration may name (``config["schedule"]``); ``constant`` is the rate as set.
SCHEDULES: tuple[str, ...] = ("constant", "step", "cosine", "warmup-cosine")

#: ``step``: the rate drops tenfold at each of these fractions of the run.
STEP_MILESTONES: tuple[float, ...] = (0.5, 0.75)
#: ``warmup-cosine``: the fraction of the run (at least one epoch) over which the rate rises linearly.
WARMUP_FRACTION = 0.1


def check_schedule(schedule: str) -> str:
    """``schedule`` if it is a known schedule name; a ValueError naming the choices otherwise."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown learning-rate schedule {schedule!r}; choose from {list(SCHEDULES)}")
    return schedule


def lr_factor(schedule: str, epoch: int, epochs: int) -> float:
    """The factor on the configured rate while training epoch ``epoch`` (0-based) of ``epochs``.

    ``constant`` is 1 throughout; ``step`` is 1, then 0.1 from half the run, 0.01 from three quarters;
    ``cosine`` anneals from 1 towards 0 (``0.5 (1 + cos(pi epoch / epochs))``); ``warmup-cosine``
    rises linearly over the first tenth of the run (at least one epoch), then anneals as ``cosine``
    over the rest.
    """
    check_schedule(schedule)
    if epochs < 1:
        raise ValueError(f"a schedule needs the run's length in epochs (got {epochs}); pass epochs >= 1")
    if not 0 <= epoch:
        raise ValueError(f"epoch must be >= 0 (got {epoch})")
    epoch = min(epoch, epochs - 1)  # trained past the planned length: stay at the last epoch's rate
    if schedule == "constant":
        return 1.0
    if schedule == "step":
        return 0.1 ** sum(epoch >= math.ceil(m * epochs) for m in STEP_MILESTONES)
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))
    warm = max(1, round(WARMUP_FRACTION * epochs))
    if epoch < warm:
        return (epoch + 1) / (warm + 1)
    rest = max(epochs - warm, 1)
    return 0.5 * (1.0 + math.cos(math.pi * (epoch - warm) / rest))
