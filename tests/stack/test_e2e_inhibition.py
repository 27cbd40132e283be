"""The shipped inhibit rules, on a real Alertmanager: the cause pages, its symptoms do not.

Alerts are posted straight to the Alertmanager API (rules are covered elsewhere); a
private Alertmanager keeps these synthetic alerts out of the shared one's notifications.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from stackenv import Tools, derived_alertmanager_config
from stackprocs import AlertWebhook, get_json, running_alertmanager, wait_until

from ragsight.names import prometheus_attribute

SVC = prometheus_attribute("service.name")


@pytest.fixture
def private_alertmanager(tools: Tools, tmp_path: Path) -> Iterator[str]:
    hook = AlertWebhook().start()
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump(derived_alertmanager_config(hook)))
    try:
        with running_alertmanager(tools.alertmanager, config, tmp_path, "alertmanager-inhibit") as (
            _,
            url,
        ):
            yield url
    finally:
        hook.stop()


def post_alerts(url: str, *labels: dict[str, str]) -> None:
    body = json.dumps([{"labels": dict(lab)} for lab in labels]).encode()
    request = urllib.request.Request(
        f"{url}/api/v2/alerts", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def states(url: str) -> dict[tuple[str, str], str]:
    """(alertname, service) -> "active" or "suppressed"."""
    return {
        (a["labels"]["alertname"], a["labels"].get(SVC, "")): a["status"]["state"]
        for a in get_json(f"{url}/api/v2/alerts")
    }


def settled(url: str, expected: dict[tuple[str, str], str]) -> None:
    wait_until(lambda: states(url) == expected, timeout=20, what=f"alert states {expected}")


def test_open_breaker_inhibits_error_rate_pages_of_its_service_only(
    private_alertmanager: str,
) -> None:
    post_alerts(
        private_alertmanager,
        {"alertname": "RagCircuitBreakerOpen", "severity": "critical", SVC: "bot"},
        {"alertname": "RagStageErrorRateHigh", "severity": "critical", SVC: "bot"},
        {"alertname": "RagStageErrorRateHigh", "severity": "critical", SVC: "other"},
    )
    settled(
        private_alertmanager,
        {
            ("RagCircuitBreakerOpen", "bot"): "active",
            ("RagStageErrorRateHigh", "bot"): "suppressed",
            ("RagStageErrorRateHigh", "other"): "active",
        },
    )


def test_silent_service_inhibits_its_warnings_but_not_its_critical_alerts(
    private_alertmanager: str,
) -> None:
    post_alerts(
        private_alertmanager,
        {"alertname": "RagTelemetryMissing", "severity": "critical", SVC: "bot"},
        {"alertname": "RagCacheHitRateDrop", "severity": "warning", SVC: "bot"},
        {"alertname": "RagCircuitBreakerOpen", "severity": "critical", SVC: "bot"},
        {"alertname": "RagCacheHitRateDrop", "severity": "warning", SVC: "other"},
    )
    settled(
        private_alertmanager,
        {
            ("RagTelemetryMissing", "bot"): "active",
            ("RagCacheHitRateDrop", "bot"): "suppressed",
            ("RagCircuitBreakerOpen", "bot"): "active",
            ("RagCacheHitRateDrop", "other"): "active",
        },
    )
