"""velocitas.access_log: key-like query values masked in uvicorn's log records."""

from __future__ import annotations

import logging

import pytest

from velocitas.access_log import REDACTED, RedactSecrets, names_a_secret, redact_query


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/ws?key=vk_abc.def", f"/ws?key={REDACTED}"),
        ("/ws?since=1&token=abc&x=2", f"/ws?since=1&token={REDACTED}&x=2"),
        ("/backtests?API_KEY=abc", f"/backtests?API_KEY={REDACTED}"),
        ("/ws?k%65y=abc", f"/ws?k%65y={REDACTED}"),  # the name the application decodes
        ("/ws?access_token=a;secret=b", f"/ws?access_token={REDACTED};secret={REDACTED}"),
        ("/backtests?keyword=abc&monkey=1", "/backtests?keyword=abc&monkey=1"),
        ("/health", "/health"),
    ],
)
def test_redact_query_masks_only_key_like_parameters(text: str, expected: str) -> None:
    assert redact_query(text) == expected


def test_names_a_secret_compares_names_case_insensitively() -> None:
    assert names_a_secret(["since", "Api_Key"])
    assert not names_a_secret(["since", "keys"])


def test_redact_secrets_masks_an_access_log_record_as_uvicorn_writes_it() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/ws?key=vk_secret", "1.1", 101),
        None,
    )
    assert RedactSecrets().filter(record)
    assert "vk_secret" not in record.getMessage()
    assert f"/ws?key={REDACTED}" in record.getMessage()
