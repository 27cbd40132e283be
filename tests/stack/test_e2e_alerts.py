"""Injected faults fire the matching alerts end to end, and the alerts resolve after.

App process (ragsight decorators, breaker, retry) -> OTLP -> Collector -> Prometheus
(the shipped rule expressions, windows and ``for:`` shrunk) -> Alertmanager (the shipped
routing, timers shrunk) -> webhook receiver in this test. One app per fault, each with
its own service name, all faulted at once so the tier pays for the slowest only.
"""

from __future__ import annotations

from typing import Any

import pytest
from stackprocs import AlertWebhook, wait_until

from ragsight import names

SVC = "service_name"
STAGE = "rag_stage"
RES = "resilience_name"

# fault mode -> (alert, labels that identify the expected alert instance, receiver)
FAULTS: dict[str, tuple[str, dict[str, str], str]] = {
    "errors": ("RagStageErrorRateHigh", {STAGE: names.STAGE_RETRIEVAL}, "page"),
    "slow": ("RagStageLatencyHigh", {STAGE: names.STAGE_RETRIEVAL}, "ticket"),
    "outage": ("RagCircuitBreakerOpen", {RES: "vector-store"}, "page"),
}
TIMEOUT = 90  # generous: 15 s windows + scrape, eval and notify at 1 s each


def service(mode: str) -> str:
    return f"e2e-alert-{mode}"


def matching(hook: AlertWebhook, mode: str, status: str) -> list[dict[str, Any]]:
    alertname, labels, _ = FAULTS[mode]
    want = {SVC: service(mode), **labels}
    return [
        a
        for a in hook.alerts(alertname, status)
        if all(a["labels"].get(k) == v for k, v in want.items())
    ]


@pytest.fixture(scope="module")
def apps(prometheus: Any, launch_app: Any) -> dict[str, Any]:
    started = {mode: launch_app(service(mode), "healthy") for mode in FAULTS}
    for app in started.values():
        app.wait_iterations(20, "healthy")
    return started


@pytest.fixture(scope="module")
def fired(apps: dict[str, Any], webhook: AlertWebhook) -> AlertWebhook:
    for mode, app in apps.items():
        app.set_mode(mode)
    for mode in FAULTS:
        wait_until(
            lambda mode=mode: matching(webhook, mode, "firing"),
            timeout=TIMEOUT,
            what=f"{FAULTS[mode][0]} firing for {service(mode)}",
            diagnose=lambda: f"notifications so far: {webhook.notifications}",
        )
    return webhook


@pytest.fixture(scope="module")
def resolved(fired: AlertWebhook, apps: dict[str, Any]) -> AlertWebhook:
    for app in apps.values():
        app.set_mode("healthy")
    for mode in FAULTS:
        wait_until(
            lambda mode=mode: matching(fired, mode, "resolved"),
            timeout=TIMEOUT,
            what=f"{FAULTS[mode][0]} resolved for {service(mode)}",
        )
    return fired


@pytest.mark.parametrize("mode", list(FAULTS))
def test_fault_fires_its_alert_through_alertmanager(fired: AlertWebhook, mode: str) -> None:
    alert = matching(fired, mode, "firing")[0]
    assert alert["annotations"]["runbook_url"].endswith("#" + FAULTS[mode][0].lower())
    assert alert["annotations"]["summary"]


@pytest.mark.parametrize("mode", list(FAULTS))
def test_alert_is_routed_by_severity(fired: AlertWebhook, mode: str) -> None:
    alert = matching(fired, mode, "firing")[0]
    receiver = FAULTS[mode][2]
    assert alert["_receiver"] == receiver
    assert alert["labels"]["severity"] == {"page": "critical", "ticket": "warning"}[receiver]


@pytest.mark.parametrize("mode", list(FAULTS))
def test_alert_resolves_when_the_fault_is_removed(resolved: AlertWebhook, mode: str) -> None:
    assert matching(resolved, mode, "resolved")


@pytest.mark.parametrize(
    ("mode", "not_expected"),
    [("slow", "RagStageErrorRateHigh"), ("errors", "RagCircuitBreakerOpen")],
)
def test_fault_does_not_fire_unrelated_alerts(
    fired: AlertWebhook, mode: str, not_expected: str
) -> None:
    assert [a for a in fired.alerts(not_expected) if a["labels"].get(SVC) == service(mode)] == []
