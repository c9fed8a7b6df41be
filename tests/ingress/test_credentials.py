"""Credentials file, password hashing, the verification cache, and the credentials CLI."""

import getpass
import hashlib
import io
import json
import logging
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from receiver import credentials_cli
from receiver.ingress._credentials import (
    DEFAULT_REALM,
    CredentialsError,
    CredentialStore,
    DeviceCredential,
    compute_ha1,
    dump_credentials,
    hash_password,
    new_device_credential,
    parse_credentials,
    read_credentials_file,
    write_credentials_file,
)

PASSWORD = "correct horse battery staple"


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def kdf_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts KDF runs (scrypt and pbkdf2) while passing through to the real functions."""
    calls: list[str] = []
    real_scrypt, real_pbkdf2 = hashlib.scrypt, hashlib.pbkdf2_hmac

    def scrypt(*args: Any, **kwargs: Any) -> bytes:
        calls.append("scrypt")
        return real_scrypt(*args, **kwargs)

    def pbkdf2(*args: Any, **kwargs: Any) -> bytes:
        calls.append("pbkdf2")
        return real_pbkdf2(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", scrypt)
    monkeypatch.setattr(hashlib, "pbkdf2_hmac", pbkdf2)
    return calls


@pytest.fixture(scope="module")
def device() -> DeviceCredential:
    return new_device_credential("SN0001", PASSWORD, digest_realms=[DEFAULT_REALM])


# --- hashing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kdf", ["scrypt", "pbkdf2-sha256"])
def test_password_hash_is_salted_phc_string_that_verifies(kdf: str) -> None:
    first, second = hash_password(PASSWORD, kdf=kdf), hash_password(PASSWORD, kdf=kdf)
    assert first.startswith(f"${kdf}$")
    assert first != second  # per-entry random salt
    store = CredentialStore({"a": DeviceCredential(first), "b": DeviceCredential(second)})
    assert store.verify_basic("a", PASSWORD)
    assert store.verify_basic("b", PASSWORD)
    assert not store.verify_basic("a", PASSWORD + "x")


def test_ha1_matches_rfc7616_example() -> None:
    # RFC 7616 section 3.9.1 (Mufasa): HA1 feeds the published responses, checked in test_auth.py;
    # here the plain definition H(user:realm:password).
    expected = hashlib.md5(b"Mufasa:http-auth@example.org:Circle of Life").hexdigest()
    assert compute_ha1("Mufasa", "http-auth@example.org", "Circle of Life", "MD5") == expected
    expected256 = hashlib.sha256(b"Mufasa:http-auth@example.org:Circle of Life").hexdigest()
    assert compute_ha1("Mufasa", "http-auth@example.org", "Circle of Life", "SHA-256") == expected256


def test_digest_entries_only_when_asked(device: DeviceCredential) -> None:
    plain = new_device_credential("SN0002", PASSWORD)
    assert plain.digest == {}
    assert device.digest_realms == (DEFAULT_REALM,)
    assert set(device.digest[DEFAULT_REALM]) == {"MD5", "SHA-256"}


def test_repr_hides_secrets(device: DeviceCredential) -> None:
    text = repr(device)
    assert device.password_hash not in text
    assert device.digest[DEFAULT_REALM]["MD5"] not in text


@pytest.mark.parametrize(
    ("name", "password", "problem"),
    [
        ("", PASSWORD, "non-empty"),
        ("a:b", PASSWORD, "must not contain ':'"),
        (" sn", PASSWORD, "surrounding spaces"),
        ("sn", "", "password must not be empty"),
        ("sn", "x" * 2000, "longer than"),
    ],
)
def test_new_credential_refuses_bad_input(name: str, password: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        new_device_credential(name, password)


def test_new_credential_refuses_bad_realm() -> None:
    with pytest.raises(ValueError, match="realm"):
        new_device_credential("sn", PASSWORD, digest_realms=['bad"realm'])


# --- the file --------------------------------------------------------------------------------


def test_file_roundtrip_and_format(tmp_path: Path, device: DeviceCredential) -> None:
    path = tmp_path / "creds.json"
    write_credentials_file(path, {"SN0001": device, "SN0002": new_device_credential("SN0002", "pw2")})
    doc = json.loads(path.read_text())
    assert doc["format"] == "telemetry-receiver-credentials"
    assert doc["version"] == 1
    assert list(doc["devices"]) == ["SN0001", "SN0002"]
    assert set(doc["devices"]["SN0001"]) == {"password", "digest"}
    assert set(doc["devices"]["SN0002"]) == {"password"}  # no HA1 unless Digest was asked for
    assert read_credentials_file(path) == {
        "SN0001": device,
        "SN0002": read_credentials_file(path)["SN0002"],
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["creds.json"]  # no temp files left


def test_write_replaces_atomically_with_new_inode(tmp_path: Path, device: DeviceCredential) -> None:
    path = tmp_path / "creds.json"
    write_credentials_file(path, {"SN0001": device})
    before = path.stat().st_ino
    path.chmod(0o644)
    write_credentials_file(path, {})
    assert path.stat().st_ino != before  # renamed over, never rewritten in place
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def _doc(devices: dict[str, Any], **top: Any) -> str:
    return json.dumps({"format": "telemetry-receiver-credentials", "version": 1, "devices": devices} | top)


def test_parse_reports_every_problem_without_secrets(device: DeviceCredential) -> None:
    good_hash = device.password_hash
    text = _doc(
        {
            "ok": {"password": good_hash},
            "bad:name": {"password": good_hash},
            "nohash": {},
            "badkdf": {"password": "$argon2id$m=65536$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"},
            "hugecost": {"password": "$scrypt$ln=30,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"},
            "badb64": {"password": "$scrypt$ln=14,r=8,p=1$!!!$aGFzaA"},
            "badha1": {"password": good_hash, "digest": {"telemetry": {"MD5": "zz" * 16, "SHA-1": "00"}}},
            "extra": {"password": good_hash, "comment": "x"},
        },
        version=2,
    )
    with pytest.raises(CredentialsError) as info:
        parse_credentials(text, source="creds.json")
    problems = "\n".join(info.value.problems)
    for expected in (
        "'version' must be 1",
        "device 'bad:name': device name must not contain ':'",
        "device 'nohash'.password: missing",
        "unknown KDF 'argon2id'",
        "device 'hugecost'.password: scrypt parameters out of range",
        "device 'badb64'.password: salt and hash must be base64",
        "'MD5']: must be 32 hex digits",
        "unknown algorithm 'SHA-1'",
        "device 'extra': unknown keys ['comment']",
    ):
        assert expected in problems
    assert good_hash.split("$")[-1] not in str(info.value)
    assert str(info.value).startswith("creds.json: ")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "not valid JSON"),
        ("[]", "top level must be a JSON object"),
        ('{"format": "x", "version": 1}', "'devices' must be an object"),
    ],
)
def test_parse_refuses_broken_documents(text: str, problem: str) -> None:
    with pytest.raises(CredentialsError, match=problem):
        parse_credentials(text)


def test_dump_is_sorted_and_stable(device: DeviceCredential) -> None:
    text = dump_credentials({"b": device, "a": device})
    assert text == dump_credentials({"a": device, "b": device})
    assert parse_credentials(text) == {"a": device, "b": device}


# --- the store -------------------------------------------------------------------------------


def test_verify_basic_good_bad_unknown(device: DeviceCredential) -> None:
    store = CredentialStore({"SN0001": device})
    assert store.verify_basic("SN0001", PASSWORD)
    assert not store.verify_basic("SN0001", "wrong")
    assert not store.verify_basic("SN9999", PASSWORD)
    assert not store.verify_basic("SN0001", "")
    assert not store.verify_basic("SN0001", "\udcff")  # not encodable: nobody's password
    assert "SN0001" in store and "SN9999" not in store
    assert store.devices() == ["SN0001"] and len(store) == 1


def test_successful_verification_is_cached_until_ttl(device: DeviceCredential, kdf_calls: list[str]) -> None:
    clock = FakeClock()
    store = CredentialStore({"SN0001": device}, cache_ttl_s=60, clock=clock)
    assert store.verify_basic("SN0001", PASSWORD)
    assert store.verify_basic("SN0001", PASSWORD)
    clock.now += 59
    assert store.verify_basic("SN0001", PASSWORD)
    assert kdf_calls == ["scrypt"]  # one KDF run for three reports
    clock.now += 61
    assert store.verify_basic("SN0001", PASSWORD)
    assert kdf_calls == ["scrypt", "scrypt"]


def test_failures_are_never_cached_and_unknown_users_cost_a_kdf_run(
    device: DeviceCredential, kdf_calls: list[str]
) -> None:
    store = CredentialStore({"SN0001": device})
    store.verify_basic("SN9999", PASSWORD)  # the dummy hash may be built on first use: one more run
    kdf_calls.clear()
    for _ in range(2):
        assert not store.verify_basic("SN0001", "wrong")
        assert not store.verify_basic("SN9999", PASSWORD)
    assert kdf_calls == ["scrypt"] * 4
    # The cache is per (user, password): a correct password cached for one user opens nothing else.
    assert store.verify_basic("SN0001", PASSWORD)
    assert not store.verify_basic("SN0001", PASSWORD + " ")


def test_cache_is_bounded_lru(kdf_calls: list[str]) -> None:
    devices = {f"d{i}": new_device_credential(f"d{i}", f"pw{i}") for i in range(3)}
    store = CredentialStore(devices, cache_max_entries=2)
    kdf_calls.clear()
    assert store.verify_basic("d0", "pw0")
    assert store.verify_basic("d1", "pw1")
    assert store.verify_basic("d0", "pw0")  # hit; d1 is now least recently used
    assert store.verify_basic("d2", "pw2")  # evicts d1
    assert len(kdf_calls) == 3
    assert store.verify_basic("d0", "pw0")
    assert len(kdf_calls) == 3
    assert store.verify_basic("d1", "pw1")
    assert len(kdf_calls) == 4


def test_cache_can_be_turned_off(device: DeviceCredential, kdf_calls: list[str]) -> None:
    store = CredentialStore({"SN0001": device}, cache_ttl_s=0)
    assert store.verify_basic("SN0001", PASSWORD)
    assert store.verify_basic("SN0001", PASSWORD)
    assert kdf_calls == ["scrypt", "scrypt"]


def test_digest_ha1_lookup(device: DeviceCredential) -> None:
    store = CredentialStore({"SN0001": device, "SN0002": new_device_credential("SN0002", "pw")})
    assert store.digest_ha1("SN0001", DEFAULT_REALM, "MD5") == compute_ha1(
        "SN0001", DEFAULT_REALM, PASSWORD, "MD5"
    )
    assert store.digest_ha1("SN0001", DEFAULT_REALM, "SHA-256") == compute_ha1(
        "SN0001", DEFAULT_REALM, PASSWORD, "SHA-256"
    )
    assert store.digest_ha1("SN0001", "other-realm", "MD5") is None
    assert store.digest_ha1("SN0002", DEFAULT_REALM, "MD5") is None  # Basic-only device
    assert store.digest_ha1("SN9999", DEFAULT_REALM, "MD5") is None


def test_load_warns_when_file_is_readable_by_others(
    tmp_path: Path, device: DeviceCredential, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "creds.json"
    write_credentials_file(path, {"SN0001": device})
    with caplog.at_level(logging.WARNING):
        CredentialStore.load(path)
    assert not caplog.records
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        store = CredentialStore.load(path)
    assert "chmod 600" in caplog.text
    assert store.path == path


def test_load_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        CredentialStore.load(tmp_path / "absent.json")


def test_reload_picks_up_changes_and_keeps_old_data_on_error(
    tmp_path: Path, device: DeviceCredential, kdf_calls: list[str]
) -> None:
    path = tmp_path / "creds.json"
    write_credentials_file(path, {"SN0001": device})
    store = CredentialStore.load(path)
    assert not store.reload_if_changed()
    assert store.verify_basic("SN0001", PASSWORD)  # now cached

    write_credentials_file(path, {"SN0002": new_device_credential("SN0002", "pw2")})
    assert store.reload_if_changed()
    assert not store.verify_basic("SN0001", PASSWORD)  # removed: the cache was dropped with it
    assert store.verify_basic("SN0002", "pw2")

    path.write_text("{ broken")
    with pytest.raises(CredentialsError):
        store.reload_if_changed()
    assert store.verify_basic("SN0002", "pw2")  # still serving the last good file


# --- CLI -------------------------------------------------------------------------------------


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., int]:
    def run(*argv: str, stdin: str = "") -> int:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        return credentials_cli.main(list(argv))

    return run


@pytest.fixture
def creds(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "creds.json"


def test_cli_add_list_remove_roundtrip(
    run_cli: Callable[..., int], creds: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("add", "--file", str(creds), "SN0001", stdin=PASSWORD + "\n") == 0
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert (
        run_cli(
            "add", "--file", str(creds), "--digest", "--realm", "r1", "--realm", "r2", "SN0002", stdin="pw2"
        )
        == 0
    )
    assert (
        run_cli("add", "--file", str(creds), "--digest", "--kdf", "pbkdf2-sha256", "SN0003", stdin="pw3") == 0
    )
    capsys.readouterr()

    assert run_cli("list", "--file", str(creds)) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "SN0001\tscrypt\tdigest:-",
        "SN0002\tscrypt\tdigest:r1,r2",
        f"SN0003\tpbkdf2-sha256\tdigest:{DEFAULT_REALM}",
    ]

    store = CredentialStore.load(creds)
    assert store.verify_basic("SN0001", PASSWORD)  # the trailing newline from the pipe is not part of it
    assert store.verify_basic("SN0002", "pw2")
    assert store.verify_basic("SN0003", "pw3")
    assert store.digest_ha1("SN0002", "r2", "MD5") == compute_ha1("SN0002", "r2", "pw2", "MD5")
    assert store.digest_ha1("SN0003", DEFAULT_REALM, "SHA-256") == compute_ha1(
        "SN0003", DEFAULT_REALM, "pw3", "SHA-256"
    )

    # add again = password rotation; Digest realms not asked for again are dropped (stale HA1).
    assert run_cli("add", "--file", str(creds), "SN0002", stdin="new") == 0
    assert "replaced SN0002" in capsys.readouterr().err
    store = CredentialStore.load(creds)
    assert store.verify_basic("SN0002", "new") and not store.verify_basic("SN0002", "pw2")
    assert store.digest_ha1("SN0002", "r1", "MD5") is None

    assert run_cli("remove", "--file", str(creds), "SN0001") == 0
    assert CredentialStore.load(creds).devices() == ["SN0002", "SN0003"]
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert run_cli("remove", "--file", str(creds), "SN0001") == 1
    assert "no device 'SN0001'" in capsys.readouterr().err


def test_cli_password_file(run_cli: Callable[..., int], creds: Path, tmp_path: Path) -> None:
    secret = tmp_path / "pw.txt"
    secret.write_text("from-a-file\r\n")
    assert run_cli("add", "--file", str(creds), "--password-file", str(secret), "SN0001") == 0
    assert CredentialStore.load(creds).verify_basic("SN0001", "from-a-file")


def test_cli_prompts_twice_on_a_terminal(
    run_cli: Callable[..., int], creds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers = iter(["typed", "typed", "one", "two"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))
    monkeypatch.setattr(sys, "stdin", Tty())
    assert credentials_cli.main(["add", "--file", str(creds), "SN0001"]) == 0
    assert CredentialStore.load(creds).verify_basic("SN0001", "typed")
    assert credentials_cli.main(["add", "--file", str(creds), "SN0002"]) == 1  # "one" != "two"
    assert "SN0002" not in CredentialStore.load(creds)


@pytest.mark.parametrize(
    ("argv", "stdin", "status", "message"),
    [
        (["add", "SN0001"], "pw", 2, "--file"),  # --file is required
        (["add", "--file", "{f}", "--password", "pw", "SN0001"], "", 2, "unrecognized arguments"),
        (["add", "--file", "{f}", "--realm", "r", "SN0001"], "pw", 2, "--realm only matters with --digest"),
        (["add", "--file", "{f}", "SN0001"], "", 1, "empty password"),
        (["add", "--file", "{f}", "SN0001"], "two\nlines\n", 1, "single line"),
        (["add", "--file", "{f}", "bad:name"], "pw", 1, "must not contain ':'"),
        (["list", "--file", "{f}"], "", 1, "does not exist"),
        (["remove", "--file", "{f}", "SN0001"], "", 1, "does not exist"),
    ],
)
def test_cli_refusals(
    run_cli: Callable[..., int],
    creds: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    stdin: str,
    status: int,
    message: str,
) -> None:
    assert run_cli(*[a.replace("{f}", str(creds)) for a in argv], stdin=stdin) == status
    assert message in capsys.readouterr().err
    assert not creds.exists()


def test_cli_reports_a_corrupt_file(
    run_cli: Callable[..., int], creds: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    creds.write_text('{"format": "telemetry-receiver-credentials", "version": 9, "devices": {}}')
    assert run_cli("add", "--file", str(creds), "SN0001", stdin="pw") == 1
    assert "'version' must be 1" in capsys.readouterr().err


def test_cli_in_a_real_process_reads_the_password_from_a_pipe(creds: Path) -> None:
    code = "import sys; from receiver.credentials_cli import main; sys.exit(main(sys.argv[1:]))"
    argv = [sys.executable, "-c", code, "add", "--file", str(creds), "--digest", "SN0001"]
    result = subprocess.run(
        argv,
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
        env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in " ".join(argv)
    assert PASSWORD not in result.stdout + result.stderr
    text = creds.read_text()
    assert PASSWORD not in text
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert CredentialStore.load(creds).verify_basic("SN0001", PASSWORD)
