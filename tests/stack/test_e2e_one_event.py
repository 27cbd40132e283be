"""A single isolated event shows in every rule and panel about it.

Each case is a fresh process (tests/support/one_event_app.py) that serves steady healthy
traffic and has exactly one event in its life: one error of a new type, one cache hit, one
outage (open -> half_open -> closed), one give-up, one budget exhaustion. Each such event is
the first sample of a new series; without start-time zero ingestion Prometheus first sees
that series at 1 and rate()/increase() never count it. Panels are queried as Grafana sends
them (tests/support/grafana_like.py: $__interval, $__rate_interval from the datasource's
scrape interval, $service, a range query), rules through Prometheus's own evaluation.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from grafana_like import interpolate, peak, query_time, range_query, service_value
from stackenv import DATA_RESOLUTION_SECONDS, rule_profile_for_tests
from stackgen import load_generator
from stackprocs import Proc, prom_query, wait_until

from ragsight import names

gen = load_generator()
REC = gen._rec(rule_profile_for_tests())
SVC = gen.SVC


@dataclass(frozen=True)
class PanelCheck:
    """A panel that must show the event: some series with ``labels`` above 0."""

    dashboard: str
    title: str
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RuleCheck:
    """A recording rule (or an alert's name) that must see the event."""

    record: str | None = None
    alert: str | None = None
    labels: tuple[tuple[str, str], ...] = ()


OVERVIEW, RESILIENCE = "ragsight-overview", "ragsight-resilience"
DEP = ((gen.RES_NAME, "vector-store"),)
CHECKS: dict[str, tuple[PanelCheck | RuleCheck, ...]] = {
    "error": (
        # error.type is the fully qualified class name (util-genai's spelling); the app runs
        # as a script, so its exception lives in __main__
        PanelCheck(OVERVIEW, "Errors by type", ((gen.ERROR, "__main__.VectorStoreTimeout"),)),
        PanelCheck(OVERVIEW, "Error ratio by stage", ((gen.STAGE, names.STAGE_RETRIEVAL),)),
        RuleCheck(record=REC["errors"], labels=((gen.STAGE, names.STAGE_RETRIEVAL),)),
        RuleCheck(record=REC["error_ratio"], labels=((gen.STAGE, names.STAGE_RETRIEVAL),)),
    ),
    "cache_hit": (
        PanelCheck(OVERVIEW, "Cache hit ratio", ((gen.CACHE, "answers"),)),
        RuleCheck(record=REC["cache_ratio"], labels=((gen.CACHE, "answers"),)),
    ),
    "outage": (
        *(
            PanelCheck(RESILIENCE, "Breaker transitions", (*DEP, (gen.CB_TO, state)))
            for state in (names.CB_STATE_OPEN, names.CB_STATE_HALF_OPEN, names.CB_STATE_CLOSED)
        ),
        PanelCheck(RESILIENCE, "Outage duration p95", DEP),
        PanelCheck(RESILIENCE, "Breaker calls by outcome", (*DEP, (gen.CB_OUTCOME, "failure"))),
    ),
    "give_up": (
        PanelCheck(
            RESILIENCE, "Give-ups by stop reason", (*DEP, (gen.RETRY_STOP, "attempts_exhausted"))
        ),
        PanelCheck(RESILIENCE, "Retry outcomes", (*DEP, (gen.RETRY_OUTCOME, "failed_after_retry"))),
    ),
    "budget_exhaustion": (
        PanelCheck(RESILIENCE, "Retries refused by the budget", DEP),
        PanelCheck(
            RESILIENCE, "Give-ups by stop reason", (*DEP, (gen.RETRY_STOP, "budget_exhausted"))
        ),
        RuleCheck(alert="RagRetryBudgetExhausted", labels=DEP),
    ),
}


@dataclass
class OneEvent:
    service: str
    event_at: float  # unix seconds, when the app reported its event done
    proc: Proc


def panel_expr(dashboard_uid: str, title: str) -> str:
    dashboard = {d["uid"]: d for d in (gen.overview_dashboard(), gen.resilience_dashboard())}[
        dashboard_uid
    ]
    (panel,) = [p for p in dashboard["panels"] if p["title"] == title]
    (target,) = panel["targets"]
    return str(target["expr"])


def has_labels(series: dict[str, Any], labels: tuple[tuple[str, str], ...]) -> bool:
    return all(series["metric"].get(k) == v for k, v in labels)


def panel_peak(prom_url: str, check: PanelCheck, run: OneEvent) -> float:
    """The panel's highest value since just before the event, as Grafana would plot it."""
    when = query_time(run.event_at - 30, time.time(), DATA_RESOLUTION_SECONDS)
    variables = {"service": service_value([run.service], ".*")}
    expr = interpolate(panel_expr(check.dashboard, check.title), when, variables)
    matrix = [s for s in range_query(prom_url, expr, when) if has_labels(s, check.labels)]
    return peak(matrix)


def rule_sees_event(prom_url: str, check: RuleCheck, run: OneEvent) -> bool:
    """Whether the rule's output (a recorded series, or the alert's ALERTS series) was above
    0 at any evaluation since the event: rules are evaluated by Prometheus, not by us."""
    labels = [(SVC, run.service), *check.labels]
    if check.alert is not None:
        labels += [("alertname", check.alert), ("alertstate", "firing")]
    matchers = ", ".join(f'{k}="{v}"' for k, v in labels)
    series = "ALERTS" if check.alert is not None else check.record
    since = max(int(time.time() - run.event_at) + 5, 10)
    found = prom_query(prom_url, f"max_over_time({series}{{{matchers}}}[{since}s])")
    return any(float(r["value"][1]) > 0 for r in found)


@pytest.fixture(scope="module", params=sorted(CHECKS))
def one_event(request: Any, run_one_event: Any) -> Iterator[OneEvent]:
    event = request.param
    with run_one_event(f"e2e-one-{event.replace('_', '-')}", event) as (service, at, proc):
        yield OneEvent(service, at, proc)


def checks_of(one_event: OneEvent) -> tuple[PanelCheck | RuleCheck, ...]:
    return CHECKS[one_event.service.removeprefix("e2e-one-").replace("-", "_")]


def test_every_panel_about_the_event_shows_it(one_event: OneEvent, prometheus: Any) -> None:
    for check in checks_of(one_event):
        if isinstance(check, PanelCheck):
            wait_until(
                lambda c=check: panel_peak(prometheus.url, c, one_event) > 0,  # type: ignore[misc]
                timeout=30,
                what=f"{check.title!r} to show {one_event.service}'s single event",
            )


def test_every_rule_about_the_event_sees_it(one_event: OneEvent, prometheus: Any) -> None:
    for check in checks_of(one_event):
        if isinstance(check, RuleCheck):
            wait_until(
                lambda c=check: rule_sees_event(prometheus.url, c, one_event),  # type: ignore[misc]
                timeout=30,
                what=f"{check.record or check.alert} to see {one_event.service}'s single event",
            )
