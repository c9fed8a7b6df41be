"""Receiver configuration: defaults, a YAML file, ``RECEIVER_<SECTION>__<KEY>`` environment variables,
then command-line flags, in that order. ``validate()`` reports every problem at once, naming the key."""

import dataclasses
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ENV_PREFIX = "RECEIVER_"
MiB = 1024 * 1024
# TR-369 "Endpoint Identifier": authority-scheme ":" [authority-id] ":" instance-id, the instance-id of
# unreserved or percent-encoded characters, at most 50 (R-ARC.5, R-ARC.6).
_USP_ENDPOINT_ID = re.compile(
    r"(?:oui|cid|pen|self|user|os|ops|uuid|imei|proto|doc|fqdn):[A-Za-z0-9._-]*:"
    r"(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2}){1,50}"
)


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    # CPEs are configured with a full URL; each path accepts POST and PUT.
    bulkdata_paths: tuple[str, ...] = ("/bulkdata", "/")
    # Seconds a CPE is told to wait (Retry-After) when we are over capacity.
    retry_after_s: int = 5
    # Receiver processes sharing the port (SO_REUSEPORT), each with its own spool directory; the
    # MQTT inputs run in the first only. /metrics describes the process that answered the scrape.
    workers: int = 1
    # Long-lived objects are moved out of the garbage collector's view this often (receiver/_gc.py):
    # full collections of them paused the event loop ~50 ms every few seconds. 0: Python's default.
    gc_freeze_interval_s: float = 10.0


@dataclass(frozen=True, kw_only=True)
class LimitsConfig:
    max_body_bytes: int = 8 * MiB
    max_decompressed_bytes: int = 64 * MiB
    max_compression_ratio: int = 200
    max_parameters: int = 50_000
    max_name_length: int = 512


@dataclass(frozen=True, kw_only=True)
class MappingConfig:
    rules_file: str | None = None
    # Use the authenticated user name as device.id when the URL carries no identity.
    identity_from_auth: bool = False
    csv_separator: str = ","
    # The columnar fast path for ParameterPerRow CSV; off only to measure the baseline against it.
    fast_csv: bool = True


@dataclass(frozen=True, kw_only=True)
class BatchConfig:
    max_points: int = 16_384  # 8192 measured 5-8% more CPU per Sparkplug message (per-batch costs)
    max_age_s: float = 0.005  # a report waits at most this long for its batch (latency budget)
    # Points accepted but not yet acknowledged by the collector; beyond it ingress answers 503.
    max_pending_points: int = 1_000_000


@dataclass(frozen=True, kw_only=True)
class ExportConfig:
    endpoint: str = "127.0.0.1:4317"
    insecure: bool = True  # plaintext gRPC to a sidecar on loopback; false: TLS with the files below
    ca_file: str | None = None  # CA that signed the collector's certificate (default: system roots)
    client_cert_file: str | None = None  # mTLS to the collector
    client_key_file: str | None = None
    max_in_flight: int = 4
    timeout_s: float = 10.0
    retry_initial_s: float = 0.1
    retry_max_s: float = 5.0
    # Give up on a batch (the reports in it get 503, and the CPE resends) after this long.
    retry_deadline_s: float = 30.0
    max_request_bytes: int = 3 * MiB + MiB // 2
    compression: str = "none"
    # "fast": hand wire-encoding from cached pieces; "protobuf": message objects (the measured baseline).
    encoder: str = "fast"
    # "otap": number metrics stream as OTel-Arrow (Arrow record batches) to the collector's ``otap``
    # receiver at ``endpoint``, which also takes the histograms and logs as OTLP; "otlp": all OTLP.
    protocol: str = "otlp"
    otap_compression: str = "zstd"  # Arrow IPC buffer compression on OTAP streams: zstd, lz4 or none


@dataclass(frozen=True, kw_only=True)
class InputsConfig:
    """Paths of the JSON device inputs besides Bulk Data and CDR."""

    senml_path: str = "/senml"
    yang_push_path: str = "/yang-push"
    # Public keys (PEM/JWK, by kid = device id) that verify JWS-signed SenML packs.
    senml_device_keys: str | None = None


@dataclass(frozen=True, kw_only=True)
class AuthConfig:
    """CPE authentication; off unless ``credentials_file`` is set (manage it with
    ``python -m receiver credentials``). Secrets come from files or the environment only."""

    credentials_file: str | None = None
    realm: str = "telemetry"
    basic: bool = True
    digest: bool = False  # needs the per-realm HA1 in the credentials file (credentials add --digest)
    require: bool = True
    # Shared by all replicas so they accept each other's Digest nonces; or RECEIVER_AUTH_NONCE_SECRET.
    nonce_secret_file: str | None = None
    nonce_ttl_s: float = 300.0
    binding: str = "device_id"  # an authenticated device may report only as itself: off | serial | device_id
    # Per-device rate limit (reports per second, burst); 0 = off.
    rate_per_s: float = 0.0
    burst: int = 10


@dataclass(frozen=True, kw_only=True)
class TlsConfig:
    """HTTPS for CPEs; with ``client_ca_file`` a verified client certificate's CN is the identity."""

    cert_file: str | None = None
    key_file: str | None = None
    client_ca_file: str | None = None
    require_client_cert: bool = False


@dataclass(frozen=True, kw_only=True)
class CdrConfig:
    """CDR uploads: ``POST {path_prefix}/data`` and ``{path_prefix}/voice`` with a CSV file (gzip allowed)."""

    path_prefix: str = "/cdr"
    max_body_bytes: int = 512 * MiB
    # A file with bad rows: accept the good rows and list the bad ones (true), or refuse it whole (false).
    partial_accept: bool = True
    # Keyed HMAC pseudonymisation of msisdn, dest_nr and ip_address; off unless a key is given
    # (file, or the RECEIVER_CDR_PSEUDONYM_KEY environment variable).
    pseudonym_key_file: str | None = None
    chunk_rows: int = 20_000


@dataclass(frozen=True, kw_only=True)
class SpoolConfig:
    """Accepted data is written here (and fsynced) before the sender gets a 2xx. Off: the answer
    waits for the collector's acknowledgement instead, which is just as safe but slower."""

    enabled: bool = True
    directory: str = "var/spool"
    max_bytes: int = 1024 * MiB  # beyond it: 503 + Retry-After, MQTT reads pause
    segment_bytes: int = 64 * MiB
    # Group commit: records written while an fsync runs share the next one; a window > 0 also waits
    # that long before the first (fewer fsyncs on slow disks, more latency).
    commit_window_s: float = 0.0
    fsync: bool = True
    # An fsync that recently took less than this runs on the event loop; slower ones (a slow disk)
    # run in a thread, so the loop is never held long. In a thread it waited for the GIL behind
    # request processing going there and coming back (up to the 5 ms switch interval each way),
    # which made the p99 latency of reports ~1.7x (measured). 0: always in a thread.
    fsync_inline_max_s: float = 0.001
    # Durable records wait up to this long to be exported together (their senders have their
    # answer already): fewer, larger exports cost less CPU. 0: export each at once.
    export_linger_s: float = 0.05
    memory_batches: int = 32  # batches kept in memory for export; the rest is read back from disk


@dataclass(frozen=True, kw_only=True)
class MqttConfig:
    """MQTT inputs (Sparkplug B host, LwM2M, USP bulk data); off unless ``broker`` is set."""

    broker: str | None = None  # mqtt://HOST[:PORT] or mqtts://HOST[:PORT]
    username: str | None = None
    password_file: str | None = None  # or the RECEIVER_MQTT_PASSWORD environment variable
    ca_file: str | None = None
    client_id: str | None = None  # default: the host id
    host_id: str = "telemetry-receiver"
    sparkplug_groups: tuple[str, ...] = ("+",)  # subscribe spBv1.0/{group}/#; "+" means every group
    lwm2m_topics: tuple[str, ...] = ("lwm2m/#",)
    usp_topics: tuple[str, ...] = ("usp/bulkdata/#",)
    # Our USP Endpoint ID, the from_id of the NotifyResp we send when a Push! Notify has send_resp set.
    # Agents address their Records to it (Controller.{i}.EndpointID). Set, Records addressed to another
    # Endpoint are ignored (TR-369 R-E2E.1, counted in receiver_usp_records_ignored); unset, every
    # Record is taken and answered in the name of the Controller it names ("self::{host_id}" if none).
    usp_controller_id: str | None = None
    # Where to send that NotifyResp when the Agent named no "reply to" topic. TR-369 has it name one in
    # every PUBLISH, and that comes first: the MQTT 5 Response Topic, or with MQTT 3.1.1 the end of the
    # Topic Name after "/reply-to=" (R-MQTT.22 to .26). "{endpoint_id}" is the Agent's; empty: no answer.
    usp_reply_topic: str | None = "usp/agent/{endpoint_id}"
    reorder_timeout_ms: int = 2000
    rebirth_min_interval_ms: int = 5000
    max_queued_messages: int = 10_000
    # How long MQTT data may wait for its batch (batch.max_age_s is for HTTP senders, who wait for
    # the answer): larger batches under load cost less CPU per message; QoS 1 PUBACKs wait this long.
    batch_max_age_s: float = 0.02
    # Read repeated Sparkplug DATA payloads by their learned byte layout (exact protobuf decoding
    # for anything else); off only to measure the baseline against it.
    learn_shapes: bool = True

    @property
    def usp_endpoint_id(self) -> str:
        """``usp_controller_id``, or the default derived from ``host_id``."""
        return self.usp_controller_id or f"self::{self.host_id}"


@dataclass(frozen=True, kw_only=True)
class TelemetryConfig:
    """The receiver's own metrics (also on /metrics), pushed through the OpenTelemetry SDK to the
    collector at ``export.endpoint`` with the same TLS settings."""

    push_interval_s: float = 30.0  # 0: /metrics only


@dataclass(frozen=True, kw_only=True)
class ReceiverConfig:
    server: ServerConfig = field(default_factory=ServerConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    mapping: MappingConfig = field(default_factory=MappingConfig)
    batch: BatchConfig = field(default_factory=BatchConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    spool: SpoolConfig = field(default_factory=SpoolConfig)
    cdr: CdrConfig = field(default_factory=CdrConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    inputs: InputsConfig = field(default_factory=InputsConfig)
    tls: TlsConfig = field(default_factory=TlsConfig)
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)

    def validate(self) -> list[str]:
        problems: list[str] = []

        def positive(key: str, value: float) -> None:
            if value <= 0:
                problems.append(f"{key} must be > 0, got {value!r}")

        def non_negative(key: str, value: float) -> None:
            if value < 0:
                problems.append(f"{key} must be >= 0, got {value!r}")

        non_negative("telemetry.push_interval_s", self.telemetry.push_interval_s)
        non_negative("server.gc_freeze_interval_s", self.server.gc_freeze_interval_s)
        if not 1 <= self.server.workers <= 64:
            problems.append(f"server.workers must be 1..64, got {self.server.workers!r}")
        if not 0 < self.server.port < 65536:
            problems.append(f"server.port must be 1..65535, got {self.server.port!r}")
        for path in self.server.bulkdata_paths:
            if not path.startswith("/"):
                problems.append(f"server.bulkdata_paths entries must start with '/', got {path!r}")
        for key in (
            "max_body_bytes",
            "max_decompressed_bytes",
            "max_compression_ratio",
            "max_parameters",
            "max_name_length",
        ):
            positive(f"limits.{key}", getattr(self.limits, key))
        positive("batch.max_points", self.batch.max_points)
        positive("batch.max_age_s", self.batch.max_age_s)
        positive("mqtt.batch_max_age_s", self.mqtt.batch_max_age_s)
        if self.batch.max_pending_points < self.batch.max_points:
            problems.append("batch.max_pending_points must be >= batch.max_points")
        for key in (
            "max_in_flight",
            "timeout_s",
            "retry_initial_s",
            "retry_max_s",
            "retry_deadline_s",
            "max_request_bytes",
        ):
            positive(f"export.{key}", getattr(self.export, key))
        host, _, port = self.export.endpoint.rpartition(":")
        if not host or not port.isdigit():
            problems.append(f"export.endpoint must be HOST:PORT, got {self.export.endpoint!r}")
        for key in ("ca_file", "client_cert_file", "client_key_file"):
            path = getattr(self.export, key)
            if path is not None and not Path(path).is_file():
                problems.append(f"export.{key}: no such file {path!r}")
        if (self.export.client_cert_file is None) != (self.export.client_key_file is None):
            problems.append("export.client_cert_file and export.client_key_file go together")
        if self.export.encoder not in ("fast", "protobuf"):
            problems.append(f"export.encoder must be 'fast' or 'protobuf', got {self.export.encoder!r}")
        if self.export.compression not in ("none", "gzip"):
            problems.append(f"export.compression must be 'none' or 'gzip', got {self.export.compression!r}")
        if self.export.protocol not in ("otlp", "otap"):
            problems.append(f"export.protocol must be 'otlp' or 'otap', got {self.export.protocol!r}")
        if self.export.otap_compression not in ("zstd", "lz4", "none"):
            problems.append(
                "export.otap_compression must be 'zstd', 'lz4' or 'none', "
                f"got {self.export.otap_compression!r}"
            )
        if self.export.protocol == "otap" and self.export.compression != "none":
            problems.append(
                "export.compression compresses OTLP requests; with export.protocol 'otap' the Arrow "
                "buffers are compressed instead (export.otap_compression): set export.compression 'none'"
            )
        if len(self.mapping.csv_separator) != 1:
            problems.append(
                f"mapping.csv_separator must be one character, got {self.mapping.csv_separator!r}"
            )
        if self.mqtt.broker is not None and not self.mqtt.broker.startswith(("mqtt://", "mqtts://")):
            problems.append(
                f"mqtt.broker must be mqtt://HOST[:PORT] or mqtts://HOST[:PORT], got {self.mqtt.broker!r}"
            )
        if not self.mqtt.host_id or any(c in self.mqtt.host_id for c in "/+#"):
            problems.append(
                f"mqtt.host_id must be non-empty without '/', '+' or '#', got {self.mqtt.host_id!r}"
            )
        for key in ("reorder_timeout_ms", "rebirth_min_interval_ms"):
            non_negative(f"mqtt.{key}", getattr(self.mqtt, key))
        if self.mqtt.usp_topics:
            problems.extend(_usp_problems(self.mqtt))
        if self.mqtt.max_queued_messages < 1:  # also the MQTT 5 Receive Maximum, which is >= 1
            problems.append(f"mqtt.max_queued_messages must be >= 1, got {self.mqtt.max_queued_messages!r}")
        for key in ("password_file", "ca_file"):
            path = getattr(self.mqtt, key)
            if path is not None and not Path(path).is_file():
                problems.append(f"mqtt.{key}: no such file {path!r}")
        for key in ("max_bytes", "segment_bytes", "memory_batches"):
            positive(f"spool.{key}", getattr(self.spool, key))
        for key in ("fsync_inline_max_s", "export_linger_s", "commit_window_s"):
            non_negative(f"spool.{key}", getattr(self.spool, key))
        if self.auth.binding not in ("off", "serial", "device_id"):
            problems.append(f"auth.binding must be off, serial or device_id, got {self.auth.binding!r}")
        if self.auth.rate_per_s < 0 or self.auth.burst < 1:
            problems.append("auth.rate_per_s must be >= 0 and auth.burst >= 1")
        for key in ("credentials_file", "nonce_secret_file"):
            path = getattr(self.auth, key)
            if path is not None and not Path(path).is_file():
                problems.append(f"auth.{key}: no such file {path!r}")
        if (self.tls.cert_file is None) != (self.tls.key_file is None):
            problems.append("tls.cert_file and tls.key_file go together")
        for key in ("cert_file", "key_file", "client_ca_file"):
            path = getattr(self.tls, key)
            if path is not None and not Path(path).is_file():
                problems.append(f"tls.{key}: no such file {path!r}")
        if self.tls.client_ca_file is not None and self.tls.cert_file is None:
            problems.append("tls.client_ca_file needs tls.cert_file and tls.key_file (mTLS is part of HTTPS)")
        positive("cdr.max_body_bytes", self.cdr.max_body_bytes)
        positive("cdr.chunk_rows", self.cdr.chunk_rows)
        if self.cdr.pseudonym_key_file is not None and not Path(self.cdr.pseudonym_key_file).is_file():
            problems.append(f"cdr.pseudonym_key_file: no such file {self.cdr.pseudonym_key_file!r}")
        if self.mapping.rules_file is not None and not Path(self.mapping.rules_file).is_file():
            problems.append(f"mapping.rules_file: no such file {self.mapping.rules_file!r}")
        return problems


def _usp_problems(mqtt: MqttConfig) -> list[str]:
    problems: list[str] = []
    if _USP_ENDPOINT_ID.fullmatch(mqtt.usp_endpoint_id) is None:
        which = (
            f"mqtt.usp_controller_id {mqtt.usp_controller_id!r}"
            if mqtt.usp_controller_id
            else f"the default mqtt.usp_controller_id {mqtt.usp_endpoint_id!r} (from mqtt.host_id)"
        )
        problems.append(
            f"{which} is not a USP Endpoint ID: expected scheme:[authority]:instance, e.g. "
            "'self::telemetry-receiver', the instance 1-50 of A-Z a-z 0-9 - . _ or %XX (TR-369 R-ARC.5)"
        )
    template = mqtt.usp_reply_topic
    if template is not None:
        rest = template.replace("{endpoint_id}", "")
        bad = "{" in rest or "}" in rest or any(c in rest for c in "+#\0")
        if bad or template.startswith(("$", "spBv1.0/")):
            problems.append(
                "mqtt.usp_reply_topic must be a topic name (no '+' or '#', not under '$' or 'spBv1.0/') "
                f"whose only placeholder is {{endpoint_id}}, got {template!r}"
            )
    return problems


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))
        self.problems = problems


def load_config(
    path: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ReceiverConfig:
    """Merge the layers into a ReceiverConfig; raise ConfigError listing every problem."""
    problems: list[str] = []
    layered: dict[str, dict[str, Any]] = {}
    if path is not None:
        try:
            document = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError([f"config file {path!r}: {exc}"]) from exc
        if not isinstance(document, dict):
            raise ConfigError([f"config file {path!r}: top level must be a mapping"])
        for section, values in document.items():
            if not isinstance(values, dict):
                problems.append(f"{section}: must be a mapping")
                continue
            layered.setdefault(str(section), {}).update(values)
    for name, value in (os.environ if environ is None else environ).items():
        if name.startswith(ENV_PREFIX) and "__" in name:
            section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
            layered.setdefault(section, {})[key] = value
    for dotted, value in (overrides or {}).items():
        if value is not None:
            section, _, key = dotted.partition(".")
            layered.setdefault(section, {})[key] = value
    sections: dict[str, Any] = {}
    section_types = {f.name: f.default_factory for f in dataclasses.fields(ReceiverConfig)}
    for section, values in layered.items():
        factory = section_types.get(section)
        if factory is None:
            problems.append(f"unknown section {section!r} (known: {', '.join(section_types)})")
            continue
        sections[section] = _build(section, factory, values, problems)
    config = ReceiverConfig(**{k: v for k, v in sections.items() if v is not None})
    problems.extend(config.validate())
    if problems:
        raise ConfigError(problems)
    return config


def _build(section: str, cls: Any, values: dict[str, Any], problems: list[str]) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, raw in values.items():
        if key not in hints:
            problems.append(f"unknown key {section}.{key} (known: {', '.join(hints)})")
            continue
        try:
            kwargs[key] = _coerce(hints[key], raw)
        except (TypeError, ValueError) as exc:
            problems.append(f"{section}.{key}: {exc}")
    return cls(**kwargs)


def _coerce(hint: Any, raw: Any) -> Any:
    """Turn YAML/env/CLI values into the field's type; env values arrive as strings."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if raw is None or (isinstance(raw, str) and raw.lower() in ("", "none", "null")):
            return None
        return _coerce(args[0], raw)
    if origin is tuple:
        items = raw.split(",") if isinstance(raw, str) else list(raw)
        return tuple(str(item).strip() for item in items if str(item).strip())
    if hint is bool:
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in ("1", "true", "yes", "on"):
            return True
        if str(raw).lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected a boolean, got {raw!r}")
    if hint is int:
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise ValueError(f"expected an integer, got {raw!r}")
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ValueError(f"expected an integer, got {raw!r}") from None
    if hint is float:
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"expected a number, got {raw!r}") from None
    if hint is str:
        return str(raw)
    raise TypeError(f"unsupported config type {hint!r}")  # pragma: no cover - a programming error
