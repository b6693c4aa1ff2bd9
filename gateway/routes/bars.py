"""`POST /bars`: upload a CSV file of bars, checked and stored like `velocitas data import`.

The CSV is the raw request body (`Content-Type: text/csv`), not a multipart form: one
`curl --data-binary @bars.csv` sends it, and the size limit is enforced while streaming.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gateway.deps import require_user
from gateway.settings import GatewaySettings, get_gateway_settings
from velocitas.errors import InvalidFile, InvalidRequest
from velocitas.ingest import ImportSummary, import_bars

# Market data is for authenticated users only, like every other route (401 without a key).
router = APIRouter(
    tags=["bars"],
    dependencies=[Depends(require_user)],
    responses={401: {"description": "Missing or invalid API key."}},
)

SettingsDep = Annotated[GatewaySettings, Depends(get_gateway_settings)]


class GapPublic(BaseModel):
    first_missing: str
    last_missing: str
    missing: int


class RowProblemPublic(BaseModel):
    """One refused value: 1-based data row (the header is not counted), column, reason."""

    row: int
    column: str
    reason: str


class BarImportPublic(BaseModel):
    """What the upload did; see `velocitas.ingest.ImportSummary`."""

    symbol: str
    timeframe: str
    read: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    first_opened_at: str | None
    last_opened_at: str | None
    missing_bars: int
    gap_count: int
    gaps: list[GapPublic]
    problems: list[RowProblemPublic]


class InvalidUploadPublic(BaseModel):
    """The file was refused and nothing was stored: the first problems and the bad-row count."""

    detail: list[RowProblemPublic]
    invalid_rows: int
    message: str


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationProblem(BaseModel):
    """A bad query parameter, in FastAPI's validation error shape."""

    detail: list[ValidationIssue]


class MessagePublic(BaseModel):
    """An error explained in one sentence."""

    detail: str


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
    responses={
        200: {"model": BarImportPublic, "description": "Accepted; no new bars were inserted."},
        413: {"model": MessagePublic, "description": "Body larger than MAX_UPLOAD_BYTES."},
        415: {"model": MessagePublic, "description": "Body is not a raw CSV."},
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
    body = await _read_body(request, settings.max_upload_bytes)
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
        location = ["query", exc.field] if exc.field in ("symbol", "timeframe", "tz") else ["body"]
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [{"loc": location, "msg": str(exc), "type": "value_error"}],
        ) from exc
    if summary.inserted == 0:
        response.status_code = status.HTTP_200_OK
    result = summary.to_dict()
    result.pop("source")
    return result


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> HTTPException:
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE, f"upload larger than {limit} bytes (MAX_UPLOAD_BYTES)"
    )
