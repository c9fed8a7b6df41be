"""Entry point for Bulk Data bodies: pick the decoder from the headers, leniently."""

from ._bulkdata_csv import decode_bulkdata_csv
from ._bulkdata_csv_fast import ParameterColumns, decode_per_row_fast
from ._bulkdata_json import decode_bulkdata_json
from ._bulkdata_model import ParameterTable, ReportFormat
from ._errors import DecodeError, UnsupportedFormat

_CSV_TYPES = frozenset({"text/csv", "application/csv", "text/comma-separated-values", "text/plain"})
_JSON_TYPES = frozenset({"application/json", "text/json"})
_FORMATS = {fmt.value.lower(): fmt for fmt in ReportFormat}


def parse_media_type(content_type: str | None) -> tuple[str | None, str]:
    """``text/csv; charset="UTF-8"; header=present`` -> ("text/csv", "utf-8"). Quotes, case and
    spacing vary between CPE stacks; a missing charset means UTF-8 (RFC 8259 / the annex)."""
    if not content_type or not content_type.strip():
        return None, "utf-8"
    media, _, params = content_type.partition(";")
    charset = "utf-8"
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip("\"'"):
            charset = value.strip().strip("\"'").lower()
    return media.strip().lower(), charset


def parse_report_format(header: str | None) -> ReportFormat | None:
    """``BBF-Report-Format`` is a token, but some agents quote it; absent means: sniff the body."""
    if header is None or not header.strip().strip("\"'"):
        return None
    token = header.strip().strip("\"'").strip().lower()
    try:
        return _FORMATS[token]
    except KeyError:
        raise UnsupportedFormat(
            f"unknown BBF-Report-Format {header.strip()!r}: expected one of "
            + ", ".join(fmt.value for fmt in ReportFormat)
        ) from None


def decode_bulkdata(
    body: bytes,
    *,
    content_type: str | None,
    report_format: str | None,
    csv_separator: str = ",",
    fast_csv: bool = True,
) -> ParameterTable | ParameterColumns:
    media, charset = parse_media_type(content_type)
    fmt = parse_report_format(report_format)
    if media is None or media == "application/octet-stream":
        is_json = body.lstrip()[:1] in (b"{", b"[")
    elif media in _JSON_TYPES or media.endswith("+json"):
        is_json = True
    elif media in _CSV_TYPES:
        is_json = False
    else:
        raise UnsupportedFormat(f"unsupported Content-Type {media!r}: expected text/csv or application/json")
    if is_json:
        return decode_bulkdata_json(body)
    try:
        text = body.decode("utf-8-sig" if charset in ("utf-8", "utf8") else charset)
    except LookupError:
        raise UnsupportedFormat(f"unsupported charset {charset!r}") from None
    except UnicodeDecodeError as exc:
        raise DecodeError(f"body is not valid {charset}: byte {exc.start}") from exc
    # A CSV body labelled with a JSON report format: the media type wins, the header tells the shape.
    csv_format = fmt if fmt is not None and fmt.is_csv else None
    if fast_csv and csv_format is not ReportFormat.PARAMETER_PER_COLUMN:
        fast = decode_per_row_fast(text, csv_separator)
        if fast is not None:
            return fast
    return decode_bulkdata_csv(text, csv_format, separator=csv_separator)
