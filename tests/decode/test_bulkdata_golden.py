"""Every folder in testdata/bulkdata is one HTTP body + headers with the decoded columns expected.
Cases named spec_* are the TR-369 annex examples; quirk_* are deviations seen from real CPEs."""

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from receiver.decode import ParameterColumns, as_parameter_table, decode_bulkdata
from receiver.decode._bulkdata_csv import decode_bulkdata_csv
from receiver.decode._bulkdata_csv_fast import decode_per_row_fast

CASES = sorted(p for p in (Path(__file__).parent / "testdata" / "bulkdata").iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASES, ids=[p.name for p in CASES])
def test_decodes_body_to_expected_columns(case: Path, update_golden: bool) -> None:
    headers = json.loads((case / "headers.json").read_text())
    table = decode_bulkdata(
        (case / "body").read_bytes(),
        content_type=headers.get("content-type"),
        report_format=headers.get("bbf-report-format"),
    )
    actual = asdict(as_parameter_table(table) if isinstance(table, ParameterColumns) else table)
    expected_file = case / "expected.json"
    if update_golden:
        expected_file.write_text(json.dumps(actual, indent=1) + "\n")
    assert actual == json.loads(expected_file.read_text())


CSV_CASES = [
    c
    for c in CASES
    if "csv" in json.loads((c / "headers.json").read_text()).get("content-type", "text/csv")
    and not (c / "body").read_bytes().lstrip().startswith(b"{")
]


@pytest.mark.parametrize("case", CSV_CASES, ids=[p.name for p in CSV_CASES])
def test_fast_csv_path_agrees_with_the_exact_path_or_declines(case: Path) -> None:
    text = (case / "body").read_bytes().decode()
    fast = decode_per_row_fast(text, ",")
    if fast is None:
        return  # declined: the exact path decodes it (asserted by the golden test)
    assert asdict(as_parameter_table(fast)) == asdict(decode_bulkdata_csv(text, None))


_HEADER = "ReportTimestamp,ParameterName,ParameterValue,ParameterType\n"


@pytest.mark.parametrize(
    "text",
    [
        _HEADER + "1700000000,Device.A,1,int\n1700000000,Device.B,,int",  # empty last value
        _HEADER + "1700000000,Device.A,1,int,",  # a trailing separator: one field too many
        _HEADER + ",Device.A,1,int\n",  # an empty timestamp
        _HEADER + "1700000000, Device.A ,1,int\n1700000001,Device.B, 2,int\n",  # spaces, two times
        "ParameterName,ParameterValue\nDevice.A,1\nDevice.B,x y\n",  # no type or time column
        "ParameterName,ParameterValue\nDevice.A,1\n\nDevice.B,2\n",  # a blank line
        _HEADER + "1700000000,Device.Ä,1,int\n1700000000,Device.B,ü,string\n",  # non-ASCII
        _HEADER + "1700000000,  ,1,int\n",  # a name of spaces only
    ],
)
def test_fast_csv_path_on_edge_shapes_agrees_or_declines(text: str) -> None:
    fast = decode_per_row_fast(text, ",")
    if fast is None:
        return
    assert asdict(as_parameter_table(fast)) == asdict(decode_bulkdata_csv(text, None))
