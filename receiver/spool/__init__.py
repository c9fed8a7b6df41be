"""spool: accepted data made durable on disk before the answer, replayed after a restart."""

from ._layout import adopt_orphans, orphan_directories, worker_directory
from ._record import CorruptRecord, DecodedRecord, decode_payload, encode_record
from ._spool import Spool, SpoolError, SpoolStats

__all__ = [
    "CorruptRecord",
    "DecodedRecord",
    "Spool",
    "SpoolError",
    "SpoolStats",
    "adopt_orphans",
    "decode_payload",
    "encode_record",
    "orphan_directories",
    "worker_directory",
]
