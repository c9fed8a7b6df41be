"""``python -m receiver credentials add|remove|list --file F [--digest [--realm R]...] DEVICE``:
manage the CPE credentials file (format: receiver/ingress/_credentials.py).

The password never goes on the command line (where ``ps`` and shell history would show it): it is
read from ``--password-file``, from standard input when that is a pipe (one line; a trailing newline
is dropped), or asked twice with ``getpass`` on a terminal.

``add`` creates or replaces the device (password rotation is "add" again). ``--digest`` also stores
the Digest HA1 (MD5 and SHA-256) for each ``--realm`` (default: the receiver's default realm). HA1
is password-equivalent for its realm; store it only for CPEs that need Digest.

The file is replaced atomically with mode 0600; concurrent runs serialise on ``F.lock``. A running
receiver picks the change up on its next reload."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import getpass
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from .ingress._credentials import (
    DEFAULT_KDF,
    DEFAULT_REALM,
    KDFS,
    MAX_PASSWORD_BYTES,
    CredentialsError,
    DeviceCredential,
    new_device_credential,
    read_credentials_file,
    write_credentials_file,
)

PROG = "python -m receiver credentials"


class _CliError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    # allow_abbrev=False everywhere: otherwise "--password SECRET" would be taken as an abbreviation
    # of --password-file, and a password typed on the command line would be "accepted".
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0], allow_abbrev=False)
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    common.add_argument("--file", required=True, type=Path, help="credentials file (JSON)")

    add = commands.add_parser(
        "add", parents=[common], allow_abbrev=False, help="add a device or replace its password"
    )
    add.add_argument("device", help="device name: the Basic/Digest user name the CPE sends")
    add.add_argument(
        "--digest", action="store_true", help="also store Digest HA1 (password-equivalent for the realm)"
    )
    add.add_argument(
        "--realm",
        action="append",
        help=f"Digest realm (repeatable; default {DEFAULT_REALM!r}); needs --digest",
    )
    add.add_argument(
        "--password-file", type=Path, help="read the password from this file (default: stdin or prompt)"
    )
    add.add_argument(
        "--kdf", choices=KDFS, default=DEFAULT_KDF, help=f"password hash (default {DEFAULT_KDF})"
    )

    remove = commands.add_parser("remove", parents=[common], allow_abbrev=False, help="remove a device")
    remove.add_argument("device")

    commands.add_parser(
        "list",
        parents=[common],
        allow_abbrev=False,
        help="list devices (names and Digest realms; no secrets)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 failed, 2 usage)."""
    parser = _parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # --help or a usage error: argparse has printed it
        return exc.code if isinstance(exc.code, int) else 2
    try:
        if args.command == "add":
            if args.realm and not args.digest:
                parser.error("--realm only matters with --digest")
            return _add(args)
        if args.command == "remove":
            return _remove(args)
        return _list(args)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    except (_CliError, CredentialsError, OSError, ValueError) as exc:
        print(f"{PROG} {args.command}: {exc}", file=sys.stderr)
        return 1


def _add(args: argparse.Namespace) -> int:
    password = _read_password(args.device, args.password_file)
    realms = (args.realm or [DEFAULT_REALM]) if args.digest else []
    # Hash before taking the lock: the KDF takes a moment and needs nothing from the file.
    credential = new_device_credential(args.device, password, digest_realms=realms, kdf=args.kdf)
    with _locked(args.file):
        devices = _read(args.file, missing_ok=True)
        replaced = args.device in devices
        devices[args.device] = credential
        write_credentials_file(args.file, devices)
    digest = f" with Digest for realm(s) {', '.join(realms)}" if realms else ""
    print(f"{'replaced' if replaced else 'added'} {args.device}{digest} in {args.file}", file=sys.stderr)
    return 0


def _remove(args: argparse.Namespace) -> int:
    with _locked(args.file):
        devices = _read(args.file, missing_ok=False)
        if devices.pop(args.device, None) is None:
            raise _CliError(f"no device {args.device!r} in {args.file}")
        write_credentials_file(args.file, devices)
    print(f"removed {args.device} from {args.file}", file=sys.stderr)
    return 0


def _list(args: argparse.Namespace) -> int:
    for name, credential in sorted(_read(args.file, missing_ok=False).items()):
        kdf = credential.password_hash.split("$")[1]
        realms = ",".join(credential.digest_realms) or "-"
        print(f"{name}\t{kdf}\tdigest:{realms}")
    return 0


def _read(path: Path, *, missing_ok: bool) -> dict[str, DeviceCredential]:
    try:
        return read_credentials_file(path)
    except FileNotFoundError:
        if missing_ok:
            return {}
        raise _CliError(f"{path} does not exist") from None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # A sidecar lock: the file itself is replaced by rename, so locking it would lock the old inode.
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _read_password(device: str, password_file: Path | None) -> str:
    if password_file is not None:
        text = password_file.read_text(encoding="utf-8")
    elif sys.stdin.isatty():
        first = getpass.getpass(f"password for {device}: ")
        if getpass.getpass("again: ") != first:
            raise _CliError("the passwords do not match")
        text = first
    else:
        text = sys.stdin.read(4 * MAX_PASSWORD_BYTES)
    password = text.removesuffix("\n").removesuffix("\r")
    if "\n" in password or "\r" in password:
        raise _CliError("the password must be a single line")
    if not password:
        raise _CliError("empty password")
    return password
