"""`POST /bars`: upload a CSV file of bars, checked and stored like `velocitas data import`.

The CSV is the raw request body (`Content-Type: text/csv`), not a multipart form: one
`curl --data-binary @bars.csv` sends it, and the size limit is enforced while streaming.
Only a `data-writer` (or `admin`) may write: the series are everyone's (docs/data.md).
Once the bars are stored, the copilot's rules watching the series are evaluated on them by a
worker (docs/copilot.md); the upload does not wait for that.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from gateway import queue
from gateway.deps import SettingsDep, require_data_writer, require_user
from gateway.schemas import (
    BarImportPublic,
    ErrorBody,
    InvalidUploadPublic,
    RowProblemPublic,
    ValidationProblem,
)
from velocitas.errors import InvalidFile, InvalidRequest
from velocitas.ingest import ImportSummary, import_bars
from velocitas.request_body import read_capped

# Market data is for authenticated users only, like every other route (401 without a key).
# It is shared: every user's backtests read the same series, so writing one takes the
# `data-writer` role (403 otherwise), checked before the body is read.
router = APIRouter(
    tags=["bars"],
    dependencies=[Depends(require_user)],
    responses={401: {"description": "Missing or invalid API key."}},
)

_CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post(
    "/bars",
    status_code=status.HTTP_201_CREATED,
    response_model=BarImportPublic,
    dependencies=[Depends(require_data_writer)],
    responses={
        200: {"model": BarImportPublic, "description": "Accepted; no new bars were inserted."},
        403: {
            "model": ErrorBody,
            "description": "The caller's role may not write market data (needs `data-writer`).",
        },
        413: {"model": ErrorBody, "description": "Body larger than MAX_UPLOAD_BYTES."},
        415: {"model": ErrorBody, "description": "Body is not a raw CSV."},
        422: {
            "model": InvalidUploadPublic | ValidationProblem,
            "description": "Bad rows (`invalid_rows`, `detail[]` by row and column) or a bad "
            "parameter (`detail[].loc` names it); nothing was stored.",
        },
    },
    openapi_extra=_CSV_BODY,
)
async def create_bars(
    request: Request,
    response: Response,
    settings: SettingsDep,
    symbol: Annotated[str, Query(description="Symbol the bars belong to, e.g. BTCUSD.")],
    timeframe: Annotated[str, Query(description="Bar length: 1m, 5m, 15m, 30m, 1h, 4h, 1d.")],
    tz: Annotated[str | None, Query(description="IANA zone of times without an offset.")] = None,
    skip_invalid: Annotated[bool, Query(description="Store good rows, report bad.")] = False,
) -> Any:
    """Check every row of the CSV body, then store all of it (or, on a bad row, nothing).

    201 when bars were inserted, 200 when every row was already stored (or only updated).
    """
    if request.headers.get("content-type", "").startswith("multipart/"):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            "send the CSV as the raw request body (Content-Type: text/csv), not a form",
        )
    body = await read_capped(
        request.stream(),
        limit=settings.max_upload_bytes,
        declared_length=request.headers.get("content-length"),
        setting="MAX_UPLOAD_BYTES",
    )
    try:
        summary: ImportSummary = await run_in_threadpool(
            import_bars,
            body,
            fmt="csv",
            symbol=symbol,
            timeframe=timeframe,
            tz=tz,
            skip_invalid=skip_invalid,
            source_name="upload",
        )
    except InvalidFile as exc:
        refused = InvalidUploadPublic(
            detail=[
                RowProblemPublic(row=p.row, column=p.column, reason=p.reason) for p in exc.problems
            ],
            invalid_rows=exc.total,
            message=f"{exc.total} invalid row(s); nothing was stored",
        )
        return JSONResponse(refused.model_dump(), status_code=422)
    except InvalidRequest as exc:
        # The importer names its own parameters; everything else it refuses is in the body.
        where = f"query.{exc.field}" if exc.field in ("symbol", "timeframe", "tz") else "body"
        raise InvalidRequest(str(exc), field=where) from exc
    # Committed: the workers evaluate the series' alert rules on the new bars (off this path).
    await run_in_threadpool(queue.announce_import, summary)
    if summary.inserted == 0:
        response.status_code = status.HTTP_200_OK
    result = summary.to_dict()
    result.pop("source")
    return result
