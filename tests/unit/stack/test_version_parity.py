"""compose.yaml pins exactly the releases the stack tier builds and tests.

collector/stack-versions.tsv is the one source of truth: scripts/build-stack-servers builds
its rows for the stack tier, and compose.yaml must run the same images. (The stack tier's
test_version_parity checks the built binaries report the same releases.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from stackgen import ROOT
from stackservers import VERSIONS, ServerVersion, read_versions

COMPOSE = ROOT / "collector" / "compose.yaml"


def compose_images(path: Path = COMPOSE) -> dict[str, str]:
    """Image repository -> tag, for every compose service."""
    services = yaml.safe_load(path.read_text())["services"]
    return dict(s["image"].rsplit(":", 1) for s in services.values())


def drift(images: dict[str, str], versions: dict[str, ServerVersion]) -> list[str]:
    """What compose runs that the stack tier does not test (empty when in parity)."""
    out = []
    for server in versions.values():
        repo, tag = server.image.rsplit(":", 1)
        if images.get(repo) != tag:
            out.append(f"{server.name}: compose runs {repo}:{images.get(repo)}, tested {tag}")
        if server.release not in tag:
            out.append(f"{server.name}: image tag {tag} is not release {server.release}")
    return out


def test_compose_runs_the_releases_the_stack_tier_tests() -> None:
    assert drift(compose_images(), VERSIONS) == []


@pytest.mark.parametrize("name", sorted(VERSIONS))
def test_drift_is_reported_when_compose_pins_another_release(name: str, tmp_path: Path) -> None:
    repo, tag = VERSIONS[name].image.rsplit(":", 1)
    changed = tmp_path / "compose.yaml"
    changed.write_text(COMPOSE.read_text().replace(f"{repo}:{tag}", f"{repo}:{tag}-other"))
    assert drift(compose_images(changed), VERSIONS) != []


def test_every_server_in_compose_except_the_collector_and_grafana_has_a_row() -> None:
    """A server added to compose without a row would run untested."""
    tested = {v.image.rsplit(":", 1)[0] for v in VERSIONS.values()}
    untested_by_design = {
        "otel/opentelemetry-collector-contrib",  # the ocb manifest's release, own parity test
        "grafana/grafana",  # AGPL: not built here; its provisioning is checked statically
    }
    assert set(compose_images()) - untested_by_design == tested


def test_each_row_names_a_module_at_an_exact_version(tmp_path: Path) -> None:
    for server in read_versions().values():
        assert server.module.count("/") >= 2, server
        assert server.module_version.startswith("v"), server
        assert all(p.startswith("./") for p in server.packages), server
