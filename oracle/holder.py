"""The model being served, and its hot reload.

`ModelHolder.current` is the one reference requests read: a handler takes it once and answers
the whole request with that model, so every response names the version that produced it. A
reload verifies and compiles the new bundle completely off the request path (in a worker
thread) and then rebinds that one attribute, which is atomic in Python: requests in flight
finish on the old model, the next ones get the new one, none fails.

A bundle that fails verification is refused: the old model keeps serving, the refusal is
reported by `/health`, and the same (version, sha256) is not retried until the registry
points elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError

from oracle.bundles import ServedModel, load_served_model
from oracle.settings import OracleSettings
from oracle.telemetry import serving
from velocitas.db.models_registry import ModelRecord, get_model, get_production_model
from velocitas.errors import ConfigurationError, NotFound

__all__ = ["ModelHolder", "watch_registry"]

log = logging.getLogger("oracle.holder")


@dataclass
class ModelHolder:
    """The served model and what the last look at the registry found."""

    settings: OracleSettings
    current: ServedModel | None = None
    last_error: str | None = None
    refused: dict[tuple[str, str], str] = field(default_factory=dict)

    def _wanted(self) -> ModelRecord:
        pinned = self.settings.oracle_model_version
        if pinned:
            return get_model(pinned, self.settings)
        return get_production_model(self.settings)

    def refresh(self) -> bool:
        """Load the registry's wanted model if it is not the one served; True if swapped.

        Blocking (database, files, JIT warm-up): call it from a worker thread."""
        try:
            record = self._wanted()
        except NotFound as exc:
            self.last_error = str(exc)
            return False
        except SQLAlchemyError as exc:  # its text names the database's address: log it only
            log.warning("cannot read the model registry: %s", exc)
            self.last_error = "the model registry is unavailable (the database did not answer)"
            return False
        served = self.current
        if served is not None and (served.version, served.sha256) == (
            record.version,
            record.sha256,
        ):
            self.last_error = None
            return False
        key = (record.version, record.sha256)
        if key in self.refused:
            return False
        try:
            model = load_served_model(record)
        except (ConfigurationError, OSError) as exc:
            message = f"refused model {record.version!r}: {exc}"
            log.error("%s; still serving %s", message, served.version if served else "nothing")
            self.refused[key] = message
            self.last_error = message
            return False
        self.current = model  # the swap: one reference, rebound atomically
        serving(model.version, served.version if served is not None else None)
        self.last_error = None
        log.info("serving model %s (sha256 %s)", model.version, model.sha256)
        return True


async def watch_registry(holder: ModelHolder) -> None:
    """Poll the registry every `ORACLE_POLL_MS` and hot-reload when the production model
    changes. Runs until cancelled; a failing poll is logged and retried at the next tick."""
    interval = holder.settings.oracle_poll_ms / 1000.0
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(holder.refresh)
        except Exception:  # the watcher must outlive any one bad poll
            log.exception("registry poll failed")
