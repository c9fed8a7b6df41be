"""Our collector distribution: the built binary has the components the issue asks for, and every
config we ship passes the binary's own `validate` (what the collector would check at start-up)."""

import os
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BINARY = REPO / "otelcol" / "build" / "otelcol-telemetry"
PROD_ENV = {
    "ADX_CLUSTER_URI": "https://example.westeurope.kusto.windows.net",
    "ADX_MANAGED_IDENTITY_ID": "system",
    "EVENTHUBS_NAMESPACE": "example",
    "EVENTHUBS_CONNECTION_STRING": "Endpoint=sb://example.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=s",
    "OTLP_BACKEND_ENDPOINT": "backend.example:4317",
    "OTLP_BACKEND_TOKEN": "token",
    "OTELCOL_BACKEND_ENDPOINT": "127.0.0.1:4999",  # config.bench-relay.yaml's backend collector
}
CONFIGS = [
    REPO / "otelcol-config.yaml",
    REPO / "otelcol" / "config.local.yaml",
    REPO / "otelcol" / "config.bench.yaml",
    REPO / "otelcol" / "config.bench-relay.yaml",
    *sorted((REPO / "otelcol" / "examples").glob("*.yaml")),
]


def _validate(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ADX_", "EVENTHUBS_", "OTLP_BACKEND_"))}
    return subprocess.run(
        [str(BINARY), "validate", "--config", str(config)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_binary_has_the_required_components() -> None:
    listed = yaml.safe_load(
        subprocess.run(
            [str(BINARY), "components"], capture_output=True, text=True, timeout=60, check=True
        ).stdout
    )
    names = {
        kind: {c["name"] for c in listed[kind] or []}
        for kind in ("receivers", "processors", "exporters", "extensions")
    }
    assert {"otlp", "otap"} <= names["receivers"]
    assert {"memory_limiter", "batch"} <= names["processors"]
    assert {"azuredataexplorer", "kafka", "otlp_grpc", "file", "debug"} <= names["exporters"]
    assert {"health_check", "file_storage"} <= names["extensions"]


def test_manifest_pins_every_module_to_one_release() -> None:
    """Every upstream module at the release ocb builds; our own module (a local path) aside."""
    manifest = yaml.safe_load((REPO / "otelcol" / "builder-config.yaml").read_text())
    entries = [
        entry for kind in ("receivers", "processors", "exporters", "extensions") for entry in manifest[kind]
    ]
    local = [entry for entry in entries if "path" in entry]
    assert [(entry["gomod"], entry["path"]) for entry in local] == [
        ("github.com/telemetry-receiver/otelcol/otaprecv v0.0.0", "./otaprecv")
    ]
    versions = {entry["gomod"].split()[1] for entry in entries if "path" not in entry}
    assert versions == {
        manifest["dist"]["version"]
        if manifest["dist"]["version"].startswith("v")
        else "v" + manifest["dist"]["version"]
    }


@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_shipped_config_validates(config: Path) -> None:
    result = _validate(config, PROD_ENV)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"ADX_CLUSTER_URI": "https://x.kusto.windows.net"}, "must be provided for auth"),
        (
            {
                "ADX_CLUSTER_URI": "https://x.kusto.windows.net",
                "ADX_MANAGED_IDENTITY_ID": "system",
                "ADX_USE_AZURE_AUTH": "true",
            },
            "must be provided for auth",
        ),
        (
            {"ADX_CLUSTER_URI": "https://x.kusto.windows.net", "ADX_MANAGED_IDENTITY_ID": "not-a-uuid"},
            "should be a UUID",
        ),
        (
            {
                "ADX_CLUSTER_URI": "https://x.kusto.windows.net",
                "ADX_MANAGED_IDENTITY_ID": "system",
                "ADX_INGESTION_TYPE": "fast",
            },
            "unsupported configuration for ingestion_type",
        ),
    ],
)
def test_production_config_rejects_bad_environment(env: dict[str, str], error: str) -> None:
    result = _validate(REPO / "otelcol-config.yaml", env)
    assert result.returncode != 0
    assert error in result.stderr
