"""Conformance tests: ragsight's output checked against the conventions' own artefacts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ragsight import names
from ragsight._core import content as _content
from ragsight._core import policy as _policy
from ragsight._core import semconv as _semconv


@pytest.fixture
def content_on() -> Iterator[None]:
    """Content capture on span attributes, as configure(content_capture=True) sets it."""
    _policy.set_content_policy(_policy.ContentPolicy(capture=True))
    try:
        yield
    finally:
        _policy.set_content_policy(_policy.DEFAULT_CONTENT_POLICY)
        _content.reset_env_for_tests()


@pytest.fixture(params=names.SEMCONV_MODES)
def mode(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each conventions generation, selected before any instrument exists (as configure()
    with ``semconv=`` does)."""
    _semconv.set_mode(request.param)
    try:
        yield request.param
    finally:
        _semconv.reset_for_tests()
