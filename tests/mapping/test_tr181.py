"""The generated TR-181 table (facts checked by hand against reference/tr-181), its loader, the
instance-number rule, and the generator's determinism against the committed table."""

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from receiver.mapping._tr181 import (
    DEFAULT_TABLE,
    ParamSpec,
    load_tr181_table,
    lookup,
    template_of,
)

REPO = Path(__file__).resolve().parents[2]
SHARED_TR181 = (
    REPO.parent / "shared" / "reference" / "tr-181"
)  # the repo root's sibling, in CI too
TABLE = load_tr181_table()


@pytest.mark.parametrize(
    ("template", "spec"),
    [
        # wifi-base.xml Radio.{i}.Stats.: <int><units value="dBm"/></int>
        ("Device.WiFi.Radio.{i}.Stats.Noise", ParamSpec("int", "int", "dBm", "gauge")),
        (
            "Device.WiFi.AccessPoint.{i}.AssociatedDevice.{i}.SignalStrength",
            ParamSpec("int", "int", "dBm", "gauge"),
        ),
        # interface.xml component BaseInterfaceStats, referenced inside Ethernet.Interface.{i}.
        (
            "Device.Ethernet.Interface.{i}.Stats.BytesSent",
            ParamSpec("unsignedLong", "StatsCounter64", "By", "sum"),
        ),
        (
            "Device.DeviceInfo.UpTime",
            ParamSpec("unsignedInt", "unsignedInt", "s", "gauge"),
        ),
        ("Device.DeviceInfo.SoftwareVersion", ParamSpec("string", "string", "", "log")),
        (
            "Device.DeviceInfo.MemoryStatus.Total",
            ParamSpec("unsignedInt", "unsignedInt", "KiBy", "gauge"),
        ),
        # interface.xml component BaseInterfaceParams: a boolean is a 0/1 gauge
        ("Device.WiFi.Radio.{i}.Enable", ParamSpec("boolean", "boolean", "", "gauge")),
        (
            "Device.WiFi.Radio.{i}.PossibleChannels",
            ParamSpec("string", "string", "", "log"),
        ),  # a list
        # tr-106 named types (embedded in the generator): IPv4Address -> IPAddress -> string
        (
            "Device.IP.Interface.{i}.IPv4Address.{i}.IPAddress",
            ParamSpec("string", "IPv4Address", "", "log"),
        ),
        # tr-106's Alias component, bound per protocol through <import><component name="Alias" ref=...>
        ("Device.WiFi.SSID.{i}.Alias", ParamSpec("string", "Alias", "", "log")),
        # cellular.xml <parameter base=...> widens StatsCounter32 to 64 and keeps the unit
        (
            "Device.Cellular.Interface.{i}.Stats.ErrorsSent",
            ParamSpec("unsignedLong", "StatsCounter64", "{packet}", "sum"),
        ),
        # docsis.xml <dataType base="TenthdB"><units value="TenthdB"/>: a unit outside the map stays verbatim
        (
            "Device.DOCSIS.DownstreamChannel.{i}.SignalQuality.SignalNoise",
            ParamSpec("int", "TenthdB", "TenthdB", "gauge"),
        ),
        # components referenced with path= (iot.xml "Device.", softwaremodules.xml ExecutionUnit.{i}.)
        (
            "Device.IoTCapability.{i}.LevelSensor.Value",
            ParamSpec("decimal", "decimal", "", "gauge"),
        ),
        (
            "Device.SoftwareModules.ExecutionUnit.{i}.HostObject.{i}.Destination",
            ParamSpec("string", "string", "", "log"),
        ),
    ],
)
def test_known_parameters_have_the_model_s_types_unit_and_kind(
    template: str, spec: ParamSpec
) -> None:
    assert TABLE[template] == spec


@pytest.mark.parametrize(
    "template",
    [
        # ...(Bytes|Packets|Frames|Errors)...(Sent|Received) in a ...Stats object
        "Device.DSL.BondingGroup.{i}.Ethernet.Stats.CRCErrorsReceived",
        "Device.WiFi.Radio.{i}.Stats.PacketsOtherReceived",
        "Device.DeviceInfo.Reboots.BootCount",  # "number of times ... since the last factory reset"
        "Device.WiFi.Radio.{i}.Stats.TotalChannelChangeCount",
        "Device.FAP.ApplicationPlatform.Monitoring.SMS.QueueReceived",  # "The counter will be reset ..."
    ],
)
def test_plain_unsigned_counters_of_older_objects_are_sums(template: str) -> None:
    assert TABLE[template].data_type in ("unsignedInt", "unsignedLong")
    assert TABLE[template].kind == "sum"


@pytest.mark.parametrize(
    "template",
    [
        "Device.DeviceInfo.UpTime",  # "Time in seconds since the CPE was last restarted"
        "Device.Ethernet.Interface.{i}.LastChange",
        "Device.ManagementServer.DefaultActiveNotificationThrottle",  # "number of {{units}} ... since"
        "Device.MQTT.Broker.{i}.Stats.NumberOfActiveClients",
    ],
)
def test_elapsed_times_and_current_counts_stay_gauges(template: str) -> None:
    assert TABLE[template].kind == "gauge"


def test_table_is_the_union_of_the_cwmp_and_usp_device_models() -> None:
    kinds = Counter(spec.kind for spec in TABLE.values())
    assert len(TABLE) > 7000
    assert min(kinds.values()) > 900, kinds
    assert "Device.ManagementServer.URL" in TABLE  # CWMP only
    assert "Device.LocalAgent.EndpointID" in TABLE  # USP only
    assert (
        "Device.Ethernet.Interface.{i}.Stats.Reset" in TABLE
    )  # a CWMP parameter, a USP command


def test_table_has_no_command_arguments_or_test_harness_objects() -> None:
    assert all(
        template.startswith("Device.") and ".." not in template for template in TABLE
    )
    assert not [template for template in TABLE if "()" in template or "!" in template]
    assert "Device.BulkData.Profile.{i}.Data" not in TABLE  # the Push! event's argument
    assert not [
        template for template in TABLE if template.startswith("Device.Layer1A.")
    ]  # Interface:2.19


@pytest.mark.parametrize(
    ("path", "template", "attributes"),
    [
        (
            "Device.WiFi.AccessPoint.1.AssociatedDevice.3.SignalStrength",
            "Device.WiFi.AccessPoint.{i}.AssociatedDevice.{i}.SignalStrength",
            (("AccessPoint", "1"), ("AssociatedDevice", "3")),
        ),
        ("Device.DeviceInfo.UpTime", "Device.DeviceInfo.UpTime", ()),
        (
            "Device.Ethernet.RMONStats.12.Packets64Bytes",
            "Device.Ethernet.RMONStats.{i}.Packets64Bytes",
            (("RMONStats", "12"),),
        ),
        # USP instance by alias
        (
            "Device.WiFi.Radio.[cpe-1].Stats.Noise",
            "Device.WiFi.Radio.{i}.Stats.Noise",
            (("Radio", "cpe-1"),),
        ),
        (
            "Device.WiFi.Radio.[].Stats",
            "Device.WiFi.Radio.[].Stats",
            (),
        ),  # empty alias: not an instance
        # two or three instances in a row (vendor objects)
        (
            "X_ACME.Port.1.2.Rate",
            "X_ACME.Port.{i}.{i}.Rate",
            (("Port", "1"), ("Port_2", "2")),
        ),
        ("X.Q.1.2.3", "X.Q.{i}.{i}.{i}", (("Q", "1"), ("Q_2", "2"), ("Q_3", "3"))),
        # nothing to name a leading instance after
        ("1.Device.X", "1.Device.X", ()),
        ("1.2.X", "1.2.X", ()),
        # an object path keeps its trailing dot
        ("Device.IP.Interface.1.", "Device.IP.Interface.{i}.", (("Interface", "1"),)),
        # empty segments pass through; an instance right after one stays literal
        ("Device..X.1", "Device..X.{i}", (("X", "1"),)),
        ("Device..1.Y", "Device..1.Y", ()),
        ("", "", ()),
        (".", ".", ()),
        # relative names (ParameterPerColumn / NameValuePair) and names that merely contain digits
        (".Stats.BytesSent", ".Stats.BytesSent", ()),
        ("Stats.BytesSent", "Stats.BytesSent", ()),
        (
            "Device.IP.Interface.2.IPv4Address.1.IPAddress",
            "Device.IP.Interface.{i}.IPv4Address.{i}.IPAddress",
            (("Interface", "2"), ("IPv4Address", "1")),
        ),
        (
            "Device.X.²",
            "Device.X.²",
            (),
        ),  # str.isdigit() is true for "²"; only ASCII digits count
        (
            "Device.WiFi.Radio.{i}.Stats.Noise",
            "Device.WiFi.Radio.{i}.Stats.Noise",
            (),
        ),  # idempotent
    ],
)
def test_template_moves_instances_into_attributes(
    path: str, template: str, attributes: tuple[tuple[str, str], ...]
) -> None:
    assert template_of(path) == (template, attributes)


def test_templates_of_reported_paths_are_in_the_table() -> None:
    template, _ = template_of(
        "Device.WiFi.AccessPoint.1.AssociatedDevice.3.SignalStrength"
    )
    assert lookup(TABLE, template) == ParamSpec("int", "int", "dBm", "gauge")
    assert (
        lookup(TABLE, "Stats.BytesSent") is None
    )  # exact only: relative names are the caller's
    assert lookup(TABLE, "Device.WiFi.Radio.1.Stats.Noise") is None


def test_loader_reads_a_given_table_and_shares_equal_specs(tmp_path: Path) -> None:
    table = tmp_path / "t.tsv"
    table.write_text(
        "path\tbase_type\tdata_type\tunit\tkind\n"
        "Device.A.{i}.X\tunsignedLong\tStatsCounter64\tBy\tsum\n"
        "Device.B.{i}.X\tunsignedLong\tStatsCounter64\tBy\tsum\n"
        "Device.C\tstring\tstring\t\tlog\n"
    )
    loaded = load_tr181_table(table)
    assert loaded["Device.C"] == ParamSpec("string", "string", "", "log")
    assert loaded["Device.A.{i}.X"] is loaded["Device.B.{i}.X"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "not a TR-181 table"),
        ("path\tkind\nDevice.A\tgauge\n", "not a TR-181 table"),
        (
            "path\tbase_type\tdata_type\tunit\tkind\nDevice.A\tint\tint\t\tcounter\n",
            r"t\.tsv:2: expected",
        ),
        (
            "path\tbase_type\tdata_type\tunit\tkind\nDevice.A\tint\tint\tgauge\n",
            r"t\.tsv:2: expected",
        ),
    ],
)
def test_loader_rejects_what_is_not_a_table(
    tmp_path: Path, text: str, error: str
) -> None:
    table = tmp_path / "t.tsv"
    table.write_text(text)
    with pytest.raises(ValueError, match=error):
        load_tr181_table(table)


def test_generator_reproduces_the_committed_table_byte_for_byte(tmp_path: Path) -> None:
    out = tmp_path / "tr181.tsv"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "gen_tr181.py"),
            "--src",
            str(SHARED_TR181),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    assert out.read_bytes() == DEFAULT_TABLE.read_bytes()
