"""The one place that talks to ADX: azure-kusto-data, imported only when a real apply needs it so
that ``--dry-run``, validation and tests work without it (``pip install 'telemetry-receiver[adx]'``)."""

from __future__ import annotations

import importlib
from typing import Any, Protocol

from ._auth import AuthConfig

__all__ = ["AdxUnavailableError", "KustoCommandClient", "connect"]

INSTALL_HINT = "pip install 'telemetry-receiver[adx]' (azure-kusto-data)"


class AdxUnavailableError(RuntimeError):
    """azure-kusto-data (or azure-identity for DefaultAzureCredential) is not installed."""


class KustoCommandClient(Protocol):
    """What apply needs from a client: run one management command against a database."""

    def execute_command(self, database: str, command: str) -> None: ...

    def close(self) -> None: ...


def _import(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        raise AdxUnavailableError(f"{module} is not installed: {INSTALL_HINT}") from e


class _AzureKustoClient:
    def __init__(self, client: Any) -> None:
        self._client = client

    def execute_command(self, database: str, command: str) -> None:
        self._client.execute_mgmt(database, command)

    def close(self) -> None:
        self._client.close()


def connect(cluster: str, auth: AuthConfig) -> KustoCommandClient:
    data = _import("azure.kusto.data")
    builder = data.KustoConnectionStringBuilder
    match auth.method:
        case "application-key":
            kcsb = builder.with_aad_application_key_authentication(
                cluster, auth.application_id, auth.application_key.value, auth.tenant_id
            )
        case "managed-identity":
            # azure-kusto-data takes no client id for the system-assigned identity.
            client_id = None if auth.managed_identity_id.lower() == "system" else auth.managed_identity_id
            kcsb = builder.with_aad_managed_service_identity_authentication(cluster, client_id=client_id)
        case "default-credential":
            identity = _import("azure.identity")
            kcsb = builder.with_azure_token_credential(cluster, credential=identity.DefaultAzureCredential())
        case "azure-cli":
            kcsb = builder.with_az_cli_authentication(cluster)
    return _AzureKustoClient(data.KustoClient(kcsb))
