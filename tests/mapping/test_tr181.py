"""The generated TR-181 table: facts checked against the XML by hand, the template rule, and the
generator's determinism (re-running it reproduces the committed table byte for byte)."""

import subprocess
import sys
from pathlib import Path

import pytest

from receiver.mapping import ParamSpec, load_tr181_table, template_of

REPO = Path(__file__).resolve().parents[2]
TABLE = load_tr181_table()


@pytest.mark.parametrize(
    ("path", "spec"),
    [
        # tr-181-2-interface.xml BaseInterfaceStats: dataType StatsCounter64, units bytes
        (
            "Device.Ethernet.Interface.{i}.Stats.BytesSent",
            ParamSpec("unsignedLong", "StatsCounter64", "By", "sum"),
        ),
        (
            "Device.MoCA.Interface.{i}.Stats.BytesReceived",
            ParamSpec("unsignedLong", "StatsCounter64", "By", "sum"),
        ),
        # tr-181-2-wifi: int with units dBm
        ("Device.WiFi.Radio.{i}.Stats.Noise", ParamSpec("int", "int", "dBm", "gauge")),
        (
            "Device.WiFi.AccessPoint.{i}.AssociatedDevice.{i}.SignalStrength",
            ParamSpec("int", "int", "dBm", "gauge"),
        ),
        # tr-181-2-deviceinfo: unsignedInt seconds; string
        ("Device.DeviceInfo.UpTime", ParamSpec("unsignedInt", "unsignedInt", "s", "gauge")),
        ("Device.DeviceInfo.SoftwareVersion", ParamSpec("string", "string", "", "log")),
        ("Device.WiFi.Radio.{i}.Enable", ParamSpec("boolean", "boolean", "", "gauge")),
        ("Device.DeviceInfo.MemoryStatus.Total", ParamSpec("unsignedInt", "unsignedInt", "KiBy", "gauge")),
    ],
)
def test_known_parameters_have_their_kind_and_unit(path: str, spec: ParamSpec) -> None:
    assert TABLE[path] == spec


def test_table_covers_the_model_without_command_arguments() -> None:
    assert len(TABLE) > 5000
    kinds = {spec.kind for spec in TABLE.values()}
    assert kinds == {"sum", "gauge", "log"}
    assert all(path.startswith("Device.") and ".." not in path for path in TABLE)
    assert not any("()" in path or path.endswith("!") for path in TABLE)


@pytest.mark.parametrize(
    ("path", "template", "attrs"),
    [
        (
            "Device.WiFi.AccessPoint.1.AssociatedDevice.3.SignalStrength",
            "Device.WiFi.AccessPoint.{i}.AssociatedDevice.{i}.SignalStrength",
            (("AccessPoint", "1"), ("AssociatedDevice", "3")),
        ),
        ("Device.DeviceInfo.UpTime", "Device.DeviceInfo.UpTime", ()),
        ("Device.WiFi.Radio.[cpe-1].Stats.Noise", "Device.WiFi.Radio.{i}.Stats.Noise", (("Radio", "cpe-1"),)),
        ("Vendor.X.1.2.Y", "Vendor.X.{i}.{i}.Y", (("X", "1"), ("X.2", "2"))),
        ("1.Device.X", "1.Device.X", ()),
        ("Device.IP.Interface.1.", "Device.IP.Interface.{i}.", (("Interface", "1"),)),
        ("Device..X.1", "Device..X.{i}", (("X", "1"),)),
        ("BytesSent", "BytesSent", ()),
    ],
)
def test_template_moves_instance_numbers_into_attributes(
    path: str, template: str, attrs: tuple[tuple[str, str], ...]
) -> None:
    assert template_of(path) == (template, attrs)


def test_generator_reproduces_the_committed_table(tmp_path: Path) -> None:
    out = tmp_path / "tr181.tsv"
    src = REPO.parent / "shared" / "reference" / "tr-181"
    subprocess.run(
        [sys.executable, str(REPO / "tools" / "gen_tr181.py"), "--src", str(src), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    assert out.read_bytes() == (REPO / "receiver" / "mapping" / "data" / "tr181.tsv").read_bytes()
