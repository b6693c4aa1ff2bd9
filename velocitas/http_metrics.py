"""HTTP metrics for every service, and its `/metrics` endpoint: one plain ASGI middleware.

`HttpMetrics` wraps an app (outermost: it sees the answers the key guard and the body limit
give before the application runs) and, for every HTTP request, counts
`velocitas_http_requests_total{method, route, status}` and observes
`velocitas_http_request_duration_seconds{method, route}` (until the application returns, the
last byte of the body sent). `route` is the route's TEMPLATE (`/backtests/{job_id}`), never the
path a client sent: a path no route matches is `unmatched`, a method outside the standard ones
`other`, so no label grows with what clients send. WebSocket connections are counted by the
gateway's `/ws` route itself.

`GET /metrics` is answered here, in Prometheus' text format, without an API key: the
middleware runs before `KeyGuard`, so a scraper needs no credentials. The metrics carry no user
data (see `velocitas.telemetry`); keep the path off the public internet all the same: nginx
answers it 404 from outside, and Prometheus scrapes the services on their own network.

Cost per request: two clock reads, a dictionary lookup and two increments under a lock (a few
microseconds; bench/RESULTS.md, issue 17).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any

import anyio.to_thread
from prometheus_client import Counter, Histogram
from prometheus_client.registry import Collector

from velocitas.http_limits import ASGIApp, Message, Receive, Scope, Send
from velocitas.telemetry import CONTENT_TYPE, LATENCY_BUCKETS, exposition

__all__ = ["METRICS_PATH", "UNMATCHED", "HttpMetrics", "RouteTemplates"]

METRICS_PATH = "/metrics"
UNMATCHED = "unmatched"
"""The `route` label of a request no route matches (a 404)."""

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter(
    "velocitas_http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
DURATION = Histogram(
    "velocitas_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)


class RouteTemplates:
    """A request's route template.

    The router writes the route it chose into the scope (`scope["route"]`, its `path` the
    template). A request answered before routing (401, 413, the gateway's relayed `/predict`)
    is matched against `templates()` (the app's paths, `/backtests/{job_id}`; read on the first
    such request, once every route is included): exact paths by a dictionary lookup (the
    relayed `/predict` is a hot path), the others by pattern."""

    def __init__(self, templates: Callable[[], Iterable[str]] = tuple) -> None:
        self._source = templates
        self._exact: dict[str, str] | None = None
        self._patterns: list[tuple[re.Pattern[str], str]] = []

    def __call__(self, scope: Scope) -> str:
        path = getattr(scope.get("route"), "path", None)
        if isinstance(path, str):
            return path
        if self._exact is None:
            self._compile()
            assert self._exact is not None
        exact = self._exact.get(scope["path"])
        if exact is not None:
            return exact
        for pattern, template in self._patterns:
            if pattern.fullmatch(scope["path"]):
                return template
        return UNMATCHED

    def _compile(self) -> None:
        templates = list(self._source())
        self._exact = {t: t for t in templates if "{" not in t}
        self._patterns = [(_pattern(t), t) for t in templates if "{" in t]


def _pattern(template: str) -> re.Pattern[str]:
    """`/a/{x}/b/{rest:path}` -> a regular expression matching the paths it routes."""
    parts = re.split(r"(\{[^}]*\})", template)
    return re.compile(
        "".join(
            (".+" if part.endswith(":path}") else "[^/]+")
            if part.startswith("{")
            else re.escape(part)
            for part in parts
        )
    )


class HttpMetrics:
    """Counts and times every HTTP request of `app`; answers `GET /metrics` (module doc).
    `templates` gives the app's route templates (`RouteTemplates`); `collectors` are read at
    each scrape (outside state, such as the queue's length)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        templates: Callable[[], Iterable[str]] = tuple,
        collectors: Iterable[Collector] = (),
        path: str = METRICS_PATH,
    ) -> None:
        self.app = app
        self.templates = RouteTemplates(templates)
        self.collectors = tuple(collectors)
        self.path = path
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._timers: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == self.path and scope["method"] in ("GET", "HEAD"):
            await self._expose(scope, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers if the application raises before it responds

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in _METHODS else "other"
        route = self.templates(scope)
        counter = self._counters.get((method, route, status))
        if counter is None:
            counter = REQUESTS.labels(method, route, str(status))
            self._counters[(method, route, status)] = counter
        timer = self._timers.get((method, route))
        if timer is None:
            timer = self._timers[(method, route)] = DURATION.labels(method, route)
        counter.inc()
        timer.observe(seconds)

    async def _expose(self, scope: Scope, send: Send) -> None:
        body = await anyio.to_thread.run_sync(exposition, self.collectors)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", CONTENT_TYPE.encode()),
                    (b"content-length", b"%d" % len(body)),
                ],
            }
        )
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )
