"""Answers every HTTP input shares."""

from starlette.responses import PlainTextResponse


def unavailable(reason: str, retry_after_s: int) -> PlainTextResponse:
    """503 + Retry-After: the data was not taken (over capacity, or not made durable); send again."""
    return PlainTextResponse(reason + "\n", status_code=503, headers={"Retry-After": str(retry_after_s)})
