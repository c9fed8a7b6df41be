"""How ``apply`` authenticates to ADX, chosen from the environment the way the collector's exporter
chooses (same variables as otelcol-config.yaml), with the Azure CLI login as the fallback for an SRE
at a workstation.

Precedence, as in the exporter: ``ADX_USE_AZURE_AUTH=true`` (DefaultAzureCredential chain), then
``ADX_MANAGED_IDENTITY_ID`` (``system`` or a user-assigned identity's client id), then the Entra ID
application (``ADX_APPLICATION_ID`` + ``ADX_APPLICATION_KEY`` + ``ADX_TENANT_ID``); with none of
them, the ``az login`` session.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["AuthConfig", "AuthConfigError", "Secret", "auth_from_env"]

AuthMethod = Literal["default-credential", "managed-identity", "application-key", "azure-cli"]
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


class AuthConfigError(ValueError):
    """The environment asks for an authentication it does not fully configure; lists every problem."""


@dataclass(frozen=True, slots=True)
class Secret:
    """A value that must never reach a log: its repr hides it."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('***')"


@dataclass(frozen=True, kw_only=True, slots=True)
class AuthConfig:
    method: AuthMethod
    application_id: str = ""
    application_key: Secret = Secret("")
    tenant_id: str = ""
    managed_identity_id: str = ""
    """``system`` for the system-assigned identity, else a user-assigned identity's client id."""

    def describe(self) -> str:
        match self.method:
            case "application-key":
                return f"Entra ID application {self.application_id} (tenant {self.tenant_id})"
            case "managed-identity":
                return f"managed identity {self.managed_identity_id}"
            case "default-credential":
                return "DefaultAzureCredential"
            case "azure-cli":
                return "Azure CLI login"


def auth_from_env(env: Mapping[str, str]) -> AuthConfig:
    """Pick the authentication from ``env`` (pass ``os.environ``); raise AuthConfigError listing every
    problem, each naming its variable."""
    problems: list[str] = []
    use_azure_auth = env.get("ADX_USE_AZURE_AUTH", "").strip().lower()
    if use_azure_auth not in _TRUE | _FALSE:
        problems.append(f"ADX_USE_AZURE_AUTH={use_azure_auth!r}: expected true or false")
    identity = env.get("ADX_MANAGED_IDENTITY_ID", "").strip()
    if identity and identity.lower() != "system":
        try:
            uuid.UUID(identity)
        except ValueError:
            problems.append(f"ADX_MANAGED_IDENTITY_ID={identity!r}: expected 'system' or a client id (UUID)")
    app = {
        name: env.get(name, "").strip()
        for name in ("ADX_APPLICATION_ID", "ADX_APPLICATION_KEY", "ADX_TENANT_ID")
    }
    app_given = [name for name, value in app.items() if value]
    wants_app = not identity and use_azure_auth not in _TRUE
    if wants_app and app_given and len(app_given) < len(app):
        missing = ", ".join(name for name, value in app.items() if not value)
        problems.append(f"{', '.join(app_given)} set but {missing} missing: an application needs all three")
    if problems:
        raise AuthConfigError("; ".join(problems))
    if use_azure_auth in _TRUE:
        return AuthConfig(method="default-credential")
    if identity:
        return AuthConfig(method="managed-identity", managed_identity_id=identity)
    if app_given:
        return AuthConfig(
            method="application-key",
            application_id=app["ADX_APPLICATION_ID"],
            application_key=Secret(app["ADX_APPLICATION_KEY"]),
            tenant_id=app["ADX_TENANT_ID"],
        )
    return AuthConfig(method="azure-cli")
