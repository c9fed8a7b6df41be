import pytest

from kusto._auth import AuthConfigError, Secret, auth_from_env

APP = {"ADX_APPLICATION_ID": "app", "ADX_APPLICATION_KEY": "s3cret", "ADX_TENANT_ID": "tenant"}


def test_nothing_configured_uses_the_azure_cli_login() -> None:
    assert auth_from_env({}).method == "azure-cli"


def test_an_application_needs_id_key_and_tenant() -> None:
    auth = auth_from_env(APP)
    assert (auth.method, auth.application_id, auth.application_key.value, auth.tenant_id) == (
        "application-key",
        "app",
        "s3cret",
        "tenant",
    )


def test_precedence_follows_the_exporter_azure_auth_then_managed_identity_then_application() -> None:
    assert auth_from_env({**APP, "ADX_MANAGED_IDENTITY_ID": "system"}).method == "managed-identity"
    assert auth_from_env(
        {**APP, "ADX_MANAGED_IDENTITY_ID": "system", "ADX_USE_AZURE_AUTH": "true"}
    ).method == ("default-credential")
    assert auth_from_env({**APP, "ADX_USE_AZURE_AUTH": "false"}).method == "application-key"


def test_a_user_assigned_identity_is_given_by_client_id() -> None:
    client_id = "0b7c6c3e-2f43-4c55-9d7f-9a1c1f5b2a10"
    auth = auth_from_env({"ADX_MANAGED_IDENTITY_ID": client_id})
    assert (auth.method, auth.managed_identity_id) == ("managed-identity", client_id)


def test_every_problem_is_reported_naming_its_variable() -> None:
    with pytest.raises(AuthConfigError) as raised:
        auth_from_env({"ADX_USE_AZURE_AUTH": "maybe", "ADX_MANAGED_IDENTITY_ID": "me"})
    assert "ADX_USE_AZURE_AUTH='maybe'" in str(raised.value)
    assert "ADX_MANAGED_IDENTITY_ID='me'" in str(raised.value)
    with pytest.raises(AuthConfigError, match="ADX_APPLICATION_KEY, ADX_TENANT_ID missing"):
        auth_from_env({"ADX_APPLICATION_ID": "app"})


def test_the_key_never_shows_in_a_repr() -> None:
    auth = auth_from_env(APP)
    assert "s3cret" not in repr(auth)
    assert repr(Secret("x")) == "Secret('***')"
    assert "s3cret" not in auth.describe()
