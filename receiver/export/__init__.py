"""export: encode OTLP and deliver it to the collector over gRPC."""

from ._grpc import ExportError, ExportStats, OtlpGrpcExporter, channel_credentials
from ._otlp_encode import encode_histograms, encode_logs, encode_metrics

__all__ = [
    "ExportError",
    "ExportStats",
    "OtlpGrpcExporter",
    "channel_credentials",
    "encode_histograms",
    "encode_logs",
    "encode_metrics",
]
