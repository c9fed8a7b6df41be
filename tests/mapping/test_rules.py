from pathlib import Path

import pytest

from receiver.mapping import Rule, RulesError, load_rules


def test_first_matching_rule_wins_on_template_or_raw_name(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n"
        "  - {match: 'Device.WiFi.Radio.{i}.Stats.Noise', kind: gauge, unit: dBm}\n"
        "  - {match: 'Device.WiFi.*', drop: true}\n"
        "  - {match: 'Device.DeviceInfo.SoftwareVersion', to_resource: os.version}\n"
        "  - {match: 'Vendor.X.1.Y', to_log: true}\n"
    )
    rules = load_rules(str(path))
    assert rules.match("Device.WiFi.Radio.{i}.Stats.Noise", "Device.WiFi.Radio.2.Stats.Noise") == Rule(
        match="Device.WiFi.Radio.{i}.Stats.Noise", kind="gauge", unit="dBm"
    )
    assert rules.match("Device.WiFi.SSID.{i}.Enable", "Device.WiFi.SSID.1.Enable").drop  # type: ignore[union-attr]
    assert rules.match("Device.DeviceInfo.SoftwareVersion", "x").to_resource == "os.version"  # type: ignore[union-attr]
    assert rules.match("Vendor.X.{i}.Y", "Vendor.X.1.Y").kind == "log"  # type: ignore[union-attr]
    assert rules.match("Device.Ethernet.Interface.{i}.Enable", "Device.Ethernet.Interface.1.Enable") is None


def test_no_rules_file_means_no_rules() -> None:
    assert load_rules(None).rules == ()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("rules: 5", "expected a top-level 'rules:' list"),
        ("rules:\n  - {kind: gauge}", "rules[0].match: a non-empty glob string is required"),
        ("rules:\n  - {match: 'A.*', kind: histogram}", "rules[0].kind: expected one of"),
        ("rules:\n  - {match: 'A.*', colour: red}", "rules[0]: unknown keys ['colour']"),
        ("rules:\n  - {match: 'A.*', unit: 5}", "rules[0].unit: expected a string"),
        ("rules: [", "rules file"),
    ],
)
def test_bad_rules_file_names_the_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(RulesError) as caught:
        load_rules(str(path))
    assert problem in str(caught.value)
