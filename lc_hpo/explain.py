"""Why a trial stopped, in the forms users look at: flat fields, a per-step history, a printed table.

The decision rule returns a :class:`~lc_hpo.decision.Decision`; the integrations store it with the
trial.  Next to the full record (``lc_forecast`` on an Optuna trial) they keep flat scalar fields that
dashboards can sort and filter (:func:`flat_fields`: ``lc_stop``, ``lc_reason``, ``lc_p_better``,
``lc_predicted_final``, ``lc_lower``, ``lc_upper``, numbers rounded to 4 significant digits), and on
Optuna a bounded history of every recorded decision (``lc_history``, :func:`history_entry`), which
``lc-hpo explain`` prints (:func:`explain_trial`).
"""

from __future__ import annotations

import math
from typing import Any

from .decision import Decision

#: The flat fields, in the order a table shows them.
FLAT_KEYS = ("lc_stop", "lc_reason", "lc_p_better", "lc_predicted_final", "lc_lower", "lc_upper")
#: The Optuna user attribute holding the per-step history of recorded decisions.
HISTORY_ATTR = "lc_history"
#: At most this many decisions are kept in the history (the latest ones): each write rewrites the
#: whole attribute, so an unbounded history would cost a long trial quadratic storage traffic.
MAX_HISTORY = 200


def round4(x: float | None) -> float | None:
    """``x`` to 4 significant digits (None and non-finite values as None: JSON and dashboards)."""
    if x is None or not math.isfinite(float(x)):
        return None
    return float(f"{float(x):.4g}")


def flat_fields(decision: Decision) -> dict[str, Any]:
    """The decision as flat scalars named :data:`FLAT_KEYS` (None where the rule made no forecast)."""
    return {
        "lc_stop": bool(decision.stop),
        "lc_reason": decision.reason,
        "lc_p_better": round4(decision.p_better),
        "lc_predicted_final": round4(decision.predicted_final),
        "lc_lower": round4(decision.lower),
        "lc_upper": round4(decision.upper),
    }


def history_entry(decision: Decision) -> dict[str, Any]:
    """One compact history record: the step, the decision's fields, numbers to 4 digits."""
    out: dict[str, Any] = {"step": decision.step, "stop": bool(decision.stop),
                           "reason": decision.reason}
    for key in ("p_better", "p_forecast", "predicted_final", "lower", "upper", "incumbent"):
        value = round4(getattr(decision, key))
        if value is not None:
            out[key] = value
    return out


def append_history(history: Any, decision: Decision) -> list[dict[str, Any]]:
    """``history`` (as stored, possibly missing or malformed) with ``decision`` appended, bounded."""
    kept = [h for h in history if isinstance(h, dict)] if isinstance(history, list) else []
    return [*kept, history_entry(decision)][-MAX_HISTORY:]


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def explain_trial(trial: Any) -> str:
    """A readable account of what LCPruner decided for an Optuna ``FrozenTrial``, step by step."""
    attrs = trial.user_attrs
    values = trial.intermediate_values
    lines = [f"trial {trial.number}: {trial.state.name}"
             + (f", value {_fmt(trial.value)}" if trial.value is not None else "")
             + f", {len(values)} reported values"
             + (f" (last step {max(values)})" if values else "")]
    if trial.params:
        lines.append("params: " + ", ".join(f"{k}={_fmt(v)}" for k, v in trial.params.items()))
    history = attrs.get(HISTORY_ATTR)
    latest = attrs.get("lc_forecast")
    if not history and not latest:
        lines.append("no decision recorded: LCPruner never forecast this trial (too early, a "
                     "leader, too few completed trials) or record=False")
        return "\n".join(lines)
    if not history:
        lines.append("no per-step history stored (recorded by an earlier lc-hpo); latest decision:")
        history = [latest]
    lines += ["", "| step | value | stop | reason | P(better) | P(forecast) | median final | "
              "90 % interval | incumbent |", "|---:|---:|---|---|---:|---:|---:|---|---:|"]
    for h in history:
        step = h.get("step")
        value = values.get(step) if step is not None else None
        interval = (f"[{_fmt(h.get('lower'))}, {_fmt(h.get('upper'))}]"
                    if h.get("lower") is not None else "-")
        lines.append(f"| {_fmt(step)} | {_fmt(value)} | {'yes' if h.get('stop') else 'no'} | "
                     f"{h.get('reason', '-')} | {_fmt(h.get('p_better'))} | "
                     f"{_fmt(h.get('p_forecast'))} | {_fmt(h.get('predicted_final'))} | "
                     f"{interval} | {_fmt(h.get('incumbent'))} |")
    last = history[-1]
    lines.append("")
    if last.get("stop"):
        if last.get("reason") == "forecast":
            threshold = (latest or {}).get("threshold")
            lines.append(f"stopped at step {last.get('step')}: P(final value beats the incumbent "
                         f"{_fmt(last.get('incumbent'))}) = {_fmt(last.get('p_better'))}, below "
                         f"the threshold {_fmt(threshold)}")
        else:
            lines.append(f"stopped at step {last.get('step')}: {last.get('reason')}")
    else:
        lines.append(f"not stopped by LCPruner (latest reason: {last.get('reason')})")
    return "\n".join(lines)
