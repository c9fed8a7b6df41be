"""decode: bytes -> typed records. Pure: no I/O, no clock."""

from ._bulkdata import decode_bulkdata, parse_media_type, parse_report_format
from ._bulkdata_csv_fast import ParameterColumns, as_parameter_table
from ._bulkdata_model import BulkValue, ParameterTable, ReportFormat
from ._errors import DecodeError, TooLarge, UnsupportedFormat
from ._timestamps import parse_timestamp_ns

__all__ = [
    "BulkValue",
    "DecodeError",
    "ParameterColumns",
    "ParameterTable",
    "ReportFormat",
    "TooLarge",
    "UnsupportedFormat",
    "as_parameter_table",
    "decode_bulkdata",
    "parse_media_type",
    "parse_report_format",
    "parse_timestamp_ns",
]
