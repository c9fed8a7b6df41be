"""Telemetry receiver: device reports in, OTLP out (ingress -> decode -> mapping -> batch -> export)."""

__version__ = "0.1.0"
