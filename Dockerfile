# Multi-stage image: one image, two roles (receiver and collector run as two containers of one pod).
#   docker build -t telemetry .
#   docker run telemetry receiver serve --host 0.0.0.0 --port 8080 --otlp-endpoint 127.0.0.1:4317
#   docker run telemetry collector --config /etc/otelcol/otelcol-config.yaml

# --- collector: our distribution, built with ocb from the pinned manifest and lock files
FROM golang:1.26-bookworm AS collector
WORKDIR /src/otelcol
COPY otelcol/builder-config.yaml otelcol/build.sh ./
COPY otelcol/lock ./lock
RUN ./build.sh

# --- receiver: the Python package and its dependencies, in a virtualenv
FROM python:3.11-slim-bookworm AS receiver
WORKDIR /src
COPY pyproject.toml README.md ./
COPY receiver ./receiver
COPY tools ./tools
# Protobuf bindings (Sparkplug, USP) are generated at build time, then packaged with the sources.
RUN python -m venv /opt/build && /opt/build/bin/pip install --no-cache-dir grpcio-tools==1.85.1 \
    && /opt/build/bin/python tools/gen_protos.py \
    && python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir .

# --- runtime
FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --home /var/lib/telemetry telemetry \
    && mkdir -p /var/lib/telemetry /var/lib/otelcol /etc/otelcol \
    && chown telemetry /var/lib/telemetry /var/lib/otelcol
COPY --from=receiver /opt/venv /opt/venv
COPY --from=collector /src/otelcol/build/otelcol-telemetry /usr/local/bin/otelcol-telemetry
COPY otelcol-config.yaml /etc/otelcol/otelcol-config.yaml
COPY deploy/entrypoint.sh /usr/local/bin/entrypoint
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 OTELCOL_STORAGE_DIR=/var/lib/otelcol
USER 10001
EXPOSE 8080 4317 4319 13133
ENTRYPOINT ["entrypoint"]
CMD ["receiver", "serve", "--host", "0.0.0.0", "--port", "8080", "--otlp-endpoint", "127.0.0.1:4317"]
