"""The Kubernetes manifests describe the sidecar pod the README promises: both containers, probes on the
endpoints the processes serve, resources, and a persistent volume for the collector's queue."""

from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]


def _docs() -> list[dict[str, Any]]:
    return [
        d for d in yaml.safe_load_all((REPO / "deploy" / "k8s" / "telemetry-receiver.yaml").read_text()) if d
    ]


def test_pod_runs_receiver_and_collector_with_probes_and_queue_volume() -> None:
    workload = next(d for d in _docs() if d["kind"] == "StatefulSet")
    containers = {c["name"]: c for c in workload["spec"]["template"]["spec"]["containers"]}
    assert set(containers) == {"receiver", "collector"}
    receiver, collector = containers["receiver"], containers["collector"]
    assert receiver["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert receiver["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "--otlp-endpoint" in receiver["args"] and "127.0.0.1:4317" in receiver["args"]
    assert collector["args"][-1] == "/etc/otelcol/otelcol-config.yaml"
    for container in containers.values():
        assert container["resources"]["limits"]["memory"]
    mount = collector["volumeMounts"][0]
    assert mount["mountPath"] == "/var/lib/otelcol"
    assert [t["metadata"]["name"] for t in workload["spec"]["volumeClaimTemplates"]] == [mount["name"]]
    env = {e["name"]: e["value"] for e in collector["env"]}
    prod = yaml.safe_load((REPO / "otelcol-config.yaml").read_text())
    assert env["OTELCOL_STORAGE_DIR"] in prod["extensions"]["file_storage"]["directory"]
