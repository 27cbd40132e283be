"""Which GenAI semantic-conventions generation ragsight emits.

The spec's own transition switch decides: v1.41.0 names by default, and the
semantic-conventions-genai v0.1.0 deltas only when ``OTEL_SEMCONV_STABILITY_OPT_IN`` lists
``gen_ai_latest_experimental``. The variable is read once (on first use), like the OTel
contrib instrumentations do, so a long-running process never flips conventions midway.
"""

from __future__ import annotations

import os
from typing import Final

from ragsight import names

_latest: bool | None = None


def _read_env() -> bool:
    raw = os.environ.get(names.SEMCONV_OPT_IN_ENV, "")
    return names.SEMCONV_LATEST_EXPERIMENTAL in {part.strip() for part in raw.split(",")}


def latest_experimental() -> bool:
    global _latest
    if _latest is None:
        _latest = _read_env()
    return _latest


def reset_for_tests() -> None:
    """Forget the cached decision so a test can change the environment variable."""
    global _latest
    _latest = None


def top_k_attribute(top_k: int) -> tuple[str, int | float]:
    """Retrieval top-k: a double under ``gen_ai.request.top_k`` (v1.41.0), an int under
    ``gen_ai.retrieval.top_k`` (genai v0.1.0, #217)."""
    if latest_experimental():
        return names.GEN_AI_RETRIEVAL_TOP_K, int(top_k)
    return names.GEN_AI_REQUEST_TOP_K, float(top_k)


def workflow_name_attribute() -> str:
    """The pipeline's name attribute: ``gen_ai.workflow.name`` (v1.41.0) or, after the genai
    v0.1.0 merge of workflows into agents, ``gen_ai.agent.name``."""
    return names.GEN_AI_AGENT_NAME if latest_experimental() else names.GEN_AI_WORKFLOW_NAME


CAPTURE_MODES: Final = ("NO_CONTENT", "SPAN_ONLY", "EVENT_ONLY", "SPAN_AND_EVENT")
