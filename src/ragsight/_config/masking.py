"""The one place that decides whether a configuration value may be printed.

Every error message, ``repr``, log line and ``ragsight config show`` row passes values
through :func:`mask`. A value is hidden when its key is a secret one, when its key's *name*
looks like a secret's (``*_token``, ``*header*``, ``*auth*``: also for keys ragsight does not
know, so a misspelt ``OTEL_EXPORTER_OTLP_HEADER`` is masked like the real one), or when the
value itself has a secret's *shape* (a bearer token, an API key such as ``sk-...`` or
``AKIA...``, a JWT, credentials in a URL, a ``key=value`` header list). Masking is
deliberately over-eager: a hidden harmless value costs a second look, a shown token costs a
rotation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "****"

_SECRET_NAME = re.compile(
    r"(?i)(key|token|secret|pass|pwd|auth|credential|cookie|signature|header|bearer|"
    r"session|private|cert|api)"
)

_TOKEN_SHAPES = re.compile(
    r"""(?ix)
    \b(bearer|basic|digest|token|apikey|api-key)\s+[^\s,;'"]+   # authorization schemes
    | \bsk-[a-z0-9_-]{6,}                                   # OpenAI/Anthropic style keys
    | \b(AKIA|ASIA)[0-9A-Z]{12,}                            # AWS access key ids
    | \beyJ[a-z0-9_-]+\.[a-z0-9_-]+(\.[a-z0-9_-]*)?          # JWTs
    | \b(gh[pousr]_|github_pat_|xox[abprs]-|glpat-|AIza|hf_|[sr]k_(live|test)_|pypi-|npm_)
      [^\s,;'"]{6,}                                         # token prefixes
    | (?<=://)[^/\s@'"]*:[^/\s@'"]*(?=@)                     # user:password@ in a URL
    | (?<=[?&])[^=&\s'"]*(key|token|secret|passw|auth|sig)[^=&\s'"]*=[^&\s'"]*  # query
    """
)
_HEADER_LIST = re.compile(r"^\s*[^=,;\s]+=[^,]*(,\s*[^=,;\s]+=[^,]*)*,?\s*$")
_WORDS = re.compile(r"[A-Za-z0-9+_.=/-]+")


def _opaque_token(word: str) -> bool:
    """A long run mixing many letters and digits (or, like base64, upper and lower case
    letters and a digit with no separator): a generated credential, not a name."""
    for part in word.split("/"):
        if len(part) >= 24:
            digits = sum(c.isdigit() for c in part)
            letters = sum(c.isalpha() for c in part)
            if digits >= 4 and letters >= 4:
                return True
        if len(part) >= 20 and part.isalnum() and _mixed_case_with_digit(part):
            return True
    return False


def _mixed_case_with_digit(part: str) -> bool:
    """``dXNlcjpodW50ZXIy``: lower and upper case letters and a digit in one word; names
    are words (``checkout-api``) or CamelCase without digits inside."""
    upper = sum(c.isupper() for c in part)
    lower = sum(c.islower() for c in part)
    return upper >= 3 and lower >= 3 and any(c.isdigit() for c in part)


def scrub(text: str) -> str:
    """Free text (an error message, a parser's complaint quoting a line) with every
    credential-shaped part replaced by ``****``."""
    text = _TOKEN_SHAPES.sub(MASK, text)
    return _WORDS.sub(lambda m: MASK if _opaque_token(m.group()) else m.group(), text)


def looks_secret(name: str) -> bool:
    """Whether a key or header *name* (known or not) should have its value masked."""
    return bool(_SECRET_NAME.search(name))


def secret_shaped(text: str) -> bool:
    """Whether a string *looks like* a credential, whatever key it was given under."""
    return bool(_TOKEN_SHAPES.search(text) or _HEADER_LIST.match(text)) or any(
        _opaque_token(w) for w in _WORDS.findall(text)
    )


def mask_url(url: str) -> str:
    """``url`` with an embedded password and secret query values hidden."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return MASK
    netloc = parts.netloc
    if password is not None:
        netloc = netloc.replace(f":{password}@", f":{MASK}@", 1)
    query = re.sub(
        r"(?i)((?:^|&)[^=&]*(?:key|token|secret|passw|auth|sig)[^=&]*=)[^&]*",
        rf"\g<1>{MASK}",
        parts.query,
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _is_plain_url(text: str) -> bool:
    return "://" in text and not any(c.isspace() for c in text.strip())


def mask(name: str, value: Any, *, secret: bool = False, by_name: bool = True) -> Any:
    """``value`` of key ``name`` made safe to print.

    Takes a dotted key, an environment variable or a configure() keyword as ``name`` and
    any raw or parsed value (strings, numbers, mappings, lists, :class:`Secret`). Returns
    the value itself when harmless, ``****`` for a secret, or a copy with the secret parts
    hidden (URL passwords, header values, list items). ``by_name`` False: a known key whose
    secrecy ``secret`` states (``content.secret_argument_names`` is not a secret). Never
    raises.
    """
    try:
        named = by_name and looks_secret(name.rsplit(".", 1)[-1])
        return _mask(name, value, secret or named, 0)
    except Exception:
        return MASK


def _mask(name: str, value: Any, secret: bool, depth: int) -> Any:
    if depth > 4:
        return MASK
    if type(value).__name__ == "Secret":
        return MASK
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {
            str(k)[:80]: MASK
            if secret or looks_secret(str(k))
            else _mask(str(k), v, False, depth + 1)
            for k, v in list(value.items())[:20]
        }
    if isinstance(value, (list, tuple)):
        return [_mask(name, v, secret, depth + 1) for v in list(value)[:20]]
    if secret:
        return MASK
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return MASK  # an object whose repr we do not control
    if len(value) > 200:
        return MASK
    if _is_plain_url(value):
        masked = mask_url(value)
        if masked == value:  # not one URL from its start ("/data/https://u:p@h"): by shape
            masked = scrub(value)
        tail = masked.split("://", 1)[-1]
        return masked if not secret_shaped(tail.split("@")[-1].replace(MASK, "")) else MASK
    return MASK if secret_shaped(value) else value
