import sys
import types
from typing import Any, ClassVar

import pytest

from kusto import build_plan
from kusto._apply import ApplyError, apply_plan
from kusto._auth import AuthConfig, Secret
from kusto._client import AdxUnavailableError, connect


class RecordingClient:
    def __init__(self, fail_on: int | None = None) -> None:
        self.sent: list[tuple[str, str]] = []
        self.fail_on = fail_on

    def execute_command(self, database: str, command: str) -> None:
        if len(self.sent) == self.fail_on:
            raise RuntimeError("Semantic error: boom")
        self.sent.append((database, command))

    def close(self) -> None:
        pass


def test_every_command_is_sent_in_plan_order_to_the_database() -> None:
    plan = build_plan()
    client = RecordingClient()
    progress: list[str] = []
    assert apply_plan(plan, client, database="oteldb", progress=progress.append) == len(plan.commands)
    assert client.sent == [("oteldb", c.text) for c in plan.commands]
    assert progress[0].startswith(f"// [1/{len(plan.commands)}] tables kql/10_tables.kql:")


def test_the_first_failure_stops_the_run_and_names_the_command() -> None:
    plan = build_plan()
    client = RecordingClient(fail_on=3)
    with pytest.raises(ApplyError) as raised:
        apply_plan(plan, client, database="oteldb")
    assert raised.value.command == plan.commands[3]
    assert raised.value.applied == 3
    assert plan.commands[3].location in str(raised.value)
    assert isinstance(raised.value.__cause__, RuntimeError)
    assert len(client.sent) == 3


class FakeBuilder:
    calls: ClassVar[list[tuple[str, tuple[Any, ...], dict[str, Any]]]] = []

    def __getattr__(self, name: str) -> Any:
        def build(*args: Any, **kwargs: Any) -> str:
            FakeBuilder.calls.append((name, args, kwargs))
            return f"kcsb:{name}"

        return build


class FakeKustoClient:
    def __init__(self, kcsb: str) -> None:
        self.kcsb = kcsb
        self.mgmt: list[tuple[str, str]] = []

    def execute_mgmt(self, database: str, command: str) -> None:
        self.mgmt.append((database, command))

    def close(self) -> None:
        pass


@pytest.fixture
def fake_azure(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    """Stand-ins for azure.kusto.data / azure.identity, so the client wiring is tested without them."""
    FakeBuilder.calls = []
    data = types.ModuleType("azure.kusto.data")
    data.KustoConnectionStringBuilder = FakeBuilder()  # type: ignore[attr-defined]
    data.KustoClient = FakeKustoClient  # type: ignore[attr-defined]
    identity = types.ModuleType("azure.identity")
    identity.DefaultAzureCredential = lambda: "credential"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azure.kusto.data", data)
    monkeypatch.setitem(sys.modules, "azure.identity", identity)
    return FakeBuilder.calls


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        (
            AuthConfig(
                method="application-key", application_id="a", application_key=Secret("k"), tenant_id="t"
            ),
            ("with_aad_application_key_authentication", ("https://c", "a", "k", "t"), {}),
        ),
        (
            AuthConfig(method="managed-identity", managed_identity_id="system"),
            ("with_aad_managed_service_identity_authentication", ("https://c",), {"client_id": None}),
        ),
        (
            AuthConfig(method="managed-identity", managed_identity_id="0b7c6c3e-2f43-4c55-9d7f-9a1c1f5b2a10"),
            (
                "with_aad_managed_service_identity_authentication",
                ("https://c",),
                {"client_id": "0b7c6c3e-2f43-4c55-9d7f-9a1c1f5b2a10"},
            ),
        ),
        (
            AuthConfig(method="default-credential"),
            ("with_azure_token_credential", ("https://c",), {"credential": "credential"}),
        ),
        (AuthConfig(method="azure-cli"), ("with_az_cli_authentication", ("https://c",), {})),
    ],
)
def test_each_auth_method_builds_its_connection_and_sends_management_commands(
    fake_azure: list[tuple[str, tuple[Any, ...], dict[str, Any]]],
    auth: AuthConfig,
    expected: tuple[str, tuple[Any, ...], dict[str, Any]],
) -> None:
    client = connect("https://c", auth)
    assert fake_azure == [expected]
    client.execute_command("db", ".show tables")
    assert client._client.mgmt == [("db", ".show tables")]  # type: ignore[attr-defined]


def test_without_azure_kusto_data_a_real_apply_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "azure.kusto.data", None)  # makes the import fail
    with pytest.raises(AdxUnavailableError, match=r"telemetry-receiver\[adx\]"):
        connect("https://c", AuthConfig(method="azure-cli"))
