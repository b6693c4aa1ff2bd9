"""The one mapping of the platform's errors to HTTP answers, shared by every service."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
import redis
import sqlalchemy.exc
from redis.backoff import NoBackoff
from redis.retry import Retry

from velocitas.errors import (
    ConfigurationError,
    Conflict,
    InvalidFile,
    InvalidRequest,
    NotFound,
    RowProblem,
    TooLarge,
    TransientError,
    VelocitasError,
)
from velocitas.http_errors import (
    MAX_ECHO,
    RETRY_AFTER_S,
    answer,
    invalid_input,
    locate,
    unavailable,
)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (TooLarge("the request body is 9 bytes; the limit is 8 (X)"), 413),
        (NotFound("no job 1"), 404),
        (Conflict("already finished"), 409),
        (TransientError("queue down"), 503),
        (ConfigurationError("DATABASE_URL is not set"), 503),
        (VelocitasError("unexpected"), 500),
    ],
)
def test_answer_plain_errors_carry_the_message_as_detail(
    error: VelocitasError, status: int
) -> None:
    http = answer(error)
    assert (http.status, http.body) == (status, {"detail": str(error)})


def test_answer_not_found_lists_what_is_available_when_given() -> None:
    series = [{"symbol": "BTCUSDT", "timeframes": ["1m"]}]
    http = answer(NotFound("no bars of ETHUSDT", available=series))
    assert (http.status, http.body) == (
        404,
        {"detail": {"message": "no bars of ETHUSDT", "available": series}},
    )


def test_answer_invalid_request_in_fastapis_validation_shape() -> None:
    http = answer(InvalidRequest("below its bound", field="legs[0].strategy.params.fast"))
    assert http.status == 422
    assert http.body == {
        "detail": [
            {
                "loc": ["body", "legs", 0, "strategy", "params", "fast"],
                "msg": "below its bound",
                "type": "value_error",
            }
        ]
    }


def test_answer_invalid_file_is_an_invalid_request() -> None:
    error = InvalidFile("upload", [RowProblem(2, "close", "not a number")])
    assert answer(error).body["detail"][0]["loc"] == ["body", "file"]


@pytest.mark.parametrize(
    ("field", "root", "loc"),
    [
        ("window", "query", ["query", "window"]),
        ("query.cursor", "body", ["query", "cursor"]),
        ("body.articles[3].symbols", "query", ["body", "articles", 3, "symbols"]),
        ("states[2]", "body", ["body", "states", 2]),
        (None, "query", ["query"]),
        ("query.", "body", ["query"]),
    ],
)
def test_locate_roots_a_field_in_the_request(
    field: str | None, root: str, loc: list[str | int]
) -> None:
    assert locate(field, root) == loc


def test_invalid_input_never_echoes_the_input() -> None:
    errors = [
        {"loc": ("body", "state", 0), "msg": "finite", "type": "finite_number", "input": "nan"},
    ]
    assert invalid_input(errors).body == {
        "detail": [{"loc": ["body", "state", 0], "msg": "finite", "type": "finite_number"}]
    }


def test_answer_transient_error_tells_when_to_retry() -> None:
    http = answer(TransientError("queue down"))
    assert http.status == 503
    assert http.headers == {"Retry-After": str(RETRY_AFTER_S)}


def test_answer_configuration_error_has_no_retry_after() -> None:
    assert answer(ConfigurationError("DATABASE_URL is not set")).headers == {}


def _database_error(host: str) -> Exception:
    """What the driver really raises for a database nobody serves at `host`."""
    try:
        psycopg.connect(f"postgresql://velocitas@/velocitas?host={host}", connect_timeout=2)
    except psycopg.OperationalError as exc:
        return exc
    raise AssertionError("a database answered where none should")


def _redis_error(socket: str) -> Exception:
    try:
        redis.Redis(unix_socket_path=socket, retry=Retry(NoBackoff(), 0)).ping()
    except redis.ConnectionError as exc:
        return exc
    raise AssertionError("a Redis answered where none should")


def test_unavailable_answers_503_naming_the_dependency_not_its_address(tmp_path: Path) -> None:
    database = _database_error(str(tmp_path))
    wrapped = sqlalchemy.exc.OperationalError("SELECT 1", {}, database)
    queue = _redis_error(str(tmp_path / "redis.sock"))
    assert str(tmp_path) in str(database)  # what must not leak
    assert str(tmp_path) in str(queue)
    for error, reason in [
        (database, "the database is unavailable, retry later"),
        (wrapped, "the database is unavailable, retry later"),
        (queue, "the queue is unavailable, retry later"),
    ]:
        http = unavailable(error)
        assert http is not None
        assert (http.status, http.body) == (503, {"detail": reason})
        assert http.headers == {"Retry-After": str(RETRY_AFTER_S)}


@pytest.mark.parametrize(
    "error",
    [
        ValueError("x"),
        sqlalchemy.exc.IntegrityError("INSERT", {}, ValueError("duplicate")),
        psycopg.errors.UniqueViolation("duplicate"),
        redis.ResponseError("WRONGTYPE"),
    ],
)
def test_unavailable_leaves_other_errors_alone(error: Exception) -> None:
    assert unavailable(error) is None


def test_answers_bound_what_they_quote_and_can_always_be_encoded() -> None:
    http = answer(InvalidRequest(f"unknown strategy {'x' * 10_000}\ud800", field="name"))
    message = http.body["detail"][0]["msg"]
    assert len(message) < MAX_ECHO + 40
    assert message.endswith("… (9523 more characters)")
    invalid = invalid_input([{"loc": ("body", "\udc80" * 500), "msg": "\ud800", "type": "x"}])
    problem = invalid.body["detail"][0]
    assert problem["msg"] == "\\ud800"
    assert len(problem["loc"][1]) < 150
    json.dumps(http.body, ensure_ascii=False).encode()
    json.dumps(invalid.body, ensure_ascii=False).encode()


def test_locate_reads_only_ascii_digits_as_indexes() -> None:
    assert locate("params.²") == ["body", "params", "²"]
