#!/bin/sh
# One image, two roles: `receiver ...` runs `python -m receiver ...`, `collector ...` runs our collector.
set -e
role="$1"; shift || true
case "$role" in
  receiver) exec python -m receiver "$@" ;;
  collector) exec otelcol-telemetry "$@" ;;
  *) exec "$role" "$@" ;;
esac
