"""Captured content carries no credential shapes: the spans' own attributes are a surface
where a secret could be printed (issue 11, item 1), so the default redactions cover the
token kinds configuration masking knows, and stay linear on adversarial text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import ragsight
from ragsight._core import content as _content
from ragsight._core import policy as _policy
from ragsight._core.policy import ContentPolicy
from ragsight.testing import capture_telemetry

CREDENTIALS = {
    "Hugging Face": "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh",
    "Stripe secret": "sk_live_51HabcdefghijklmnOPQRST",
    "Stripe restricted": "rk_test_51HabcdefghijklmnOPQRST",
    "GitLab": "glpat-Ab12Cd34Ef56Gh78Ij90",
    "npm": "npm_AbCdEf0123456789AbCdEf0123456789AbCd",
    "PyPI": "pypi-AgEIcHlwaS5vcmcCJDAwMDAwMDAw",
    "AWS secret variable": "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY",
    "a token parameter": "https://api.example.com/feed?token=Zq8rT2pLmNx7Wv",
    "a token field": "refresh_token: Zq8rT2pLmNx7Wv",
    "a URL-encoded bearer header": "Authorization=Bearer%20Zq8rT2pLmNx7Wv",
}
CORES = ("AbCdEfGhIjKl", "51Habcdefghij", "Ab12Cd34", "AbCdEf0123", "AgEIcHlwaS5v",
         "wJalrXUtnFEMI", "Zq8rT2pLmNx7")  # fmt: skip


@pytest.fixture
def capture_on() -> Iterator[None]:
    previous = _policy.get_content_policy()
    _policy.set_content_policy(ContentPolicy(capture=True))
    try:
        yield
    finally:
        _policy.set_content_policy(previous)


@pytest.mark.parametrize("credential", CREDENTIALS.values(), ids=CREDENTIALS.keys())
def test_a_credential_in_a_prompt_never_reaches_the_span(credential: str, capture_on: None) -> None:
    @ragsight.generation(provider="openai", model="m")
    def answer(prompt: str) -> str:
        return "ok"

    with capture_telemetry() as telemetry:
        answer(f"please use {credential} for the call")
    spans = telemetry.spans
    assert spans
    shown = "\n".join(f"{k}={v}" for s in spans for k, v in (s.attributes or {}).items())
    assert "please use" in shown  # the prompt was captured, redacted
    assert not [core for core in CORES if core in shown]


def test_ordinary_words_next_to_token_are_kept() -> None:
    text = "set max_tokens=512 and tokens: 20"
    assert _content.redact_text(text, ContentPolicy(capture=True)) == text


@pytest.mark.parametrize("unit", ["a-", "a_", "secret_", "token_x_", "https://"])
def test_redaction_of_long_adversarial_text_finishes(unit: str) -> None:
    # quadratic patterns took 46 s (a name of any number of parts) and 7 s (a scheme of any
    # length) on 40 kB of "a-a-a-..."; pytest's timeout fails a regression
    text = unit * (40_000 // len(unit))
    assert len(_content.redact_text(text, ContentPolicy(capture=True))) >= len(text) // 2
