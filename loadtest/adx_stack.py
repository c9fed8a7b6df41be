"""Our collector with the REAL `azuredataexplorer` exporter, pointed at the Kusto test double: the
stack that tests/adx/test_adx_exporter.py asserts and loadtest/bench_adx.py measures.

How the exporter is satisfied without Azure (mechanisms the SDKs document, nothing patched):
* TLS: the double serves a certificate from a throw-away `trustme` CA; the collector trusts it
  through `SSL_CERT_FILE` (Go's crypto/x509 on Linux).
* Token: `managed_identity_id: system` plus `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` make
  azidentity/MSAL use the App Service managed-identity protocol against the double; `HTTP(S)_PROXY`
  points at the double's egress tripwire, so any request to a non-loopback host is recorded.
* Cluster URI without a port (443): with a port, the SDK's queued client would prefix the host with
  `ingest-` (azkustoingest `addIngestPrefix` only exempts bare IPs and localhost)."""

from __future__ import annotations

import contextlib
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme
import yaml

from loadtest.kusto_ingest_double import KustoIngestDouble
from receiver.devstack import REPO, Collector, run_collector

CONFIG = REPO / "otelcol" / "config.adx-test.yaml"
EXPORTER_CONFIG: dict[str, Any] = yaml.safe_load(CONFIG.read_text())["exporters"]["azuredataexplorer"]
DATABASE = str(EXPORTER_CONFIG["db_name"])


class StackError(Exception):
    """The double or the collector could not start; the message says why."""


@dataclass
class AdxStack:
    double: KustoIngestDouble
    collector: Collector
    workdir: Path


@contextlib.contextmanager
def run_adx_stack(
    workdir: Path, *, count_only: bool = False, extra_env: dict[str, str] | None = None
) -> Iterator[AdxStack]:
    """The double on https://127.0.0.1:443 and our collector exporting to it (config.adx-test.yaml).
    ``count_only``: the double counts rows instead of keeping them (benchmarks); ``extra_env``: more
    environment for the collector (the config's ``${env:...}`` settings)."""
    ca = trustme.CA()
    ca_dir = workdir / "ca"
    ca_dir.mkdir(parents=True, exist_ok=True)
    ca_file = ca_dir / "test-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(tls)
    double = _start_double(tls, count_only)
    with contextlib.closing(double):
        try:
            with run_collector(
                workdir, config=CONFIG, extra_env={**_collector_env(double, ca_file), **(extra_env or {})}
            ) as collector:
                yield AdxStack(double, collector, workdir)
        except (RuntimeError, TimeoutError) as exc:  # the collector did not come up
            raise StackError(f"{exc}\n--- collector.log ---\n{tail(workdir / 'collector.log')}") from None


def _start_double(tls: ssl.SSLContext, count_only: bool) -> KustoIngestDouble:
    double = KustoIngestDouble(tls, database=DATABASE, count_only=count_only)
    try:
        double.start()
    except OSError as exc:
        holder = subprocess.run(
            ["ss", "-Hltnp", "sport = :443"], capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
        raise StackError(
            f"the Kusto test double needs https://127.0.0.1:443 (the cluster URI must carry no port) "
            f"and could not bind it: {exc.strerror or exc}. "
            + (f"Port 443 is held by: {holder}" if holder else "Run as root or grant CAP_NET_BIND_SERVICE.")
        ) from None
    return double


def _collector_env(double: KustoIngestDouble, ca_file: Path) -> dict[str, str]:
    blank = (
        # Other managed-identity sources MSAL would prefer or consult (Service Fabric, Azure ML,
        # Cloud Shell, Arc): blank, so that App Service is the one chosen.
        "IDENTITY_SERVER_THUMBPRINT",
        "MSI_ENDPOINT",
        "MSI_SECRET",
        "IMDS_ENDPOINT",
        "NO_PROXY",
        "no_proxy",
    )
    return {
        **dict.fromkeys(blank, ""),
        # Go reads both on Linux: only the test CA is trusted (no system roots at all).
        "SSL_CERT_FILE": str(ca_file),
        "SSL_CERT_DIR": str(ca_file.parent),
        "IDENTITY_ENDPOINT": double.identity_endpoint,
        "IDENTITY_HEADER": double.identity_header,
        # Go never proxies loopback; anything else (169.254.169.254, login.microsoftonline.com, ...)
        # would reach the double's egress tripwire instead of the network.
        "HTTP_PROXY": double.egress_proxy,
        "HTTPS_PROXY": double.egress_proxy,
        "http_proxy": double.egress_proxy,
        "https_proxy": double.egress_proxy,
    }


def tail(path: Path, lines: int = 40) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return f"({path} unreadable)"
