"""Every folder in testdata/bulkdata is one HTTP body + headers with the decoded columns expected.
Cases named spec_* are the TR-369 annex examples; quirk_* are deviations seen from real CPEs."""

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from receiver.decode import decode_bulkdata

CASES = sorted(p for p in (Path(__file__).parent / "testdata" / "bulkdata").iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASES, ids=[p.name for p in CASES])
def test_decodes_body_to_expected_columns(case: Path, update_golden: bool) -> None:
    headers = json.loads((case / "headers.json").read_text())
    table = decode_bulkdata(
        (case / "body").read_bytes(),
        content_type=headers.get("content-type"),
        report_format=headers.get("bbf-report-format"),
    )
    actual = asdict(table)
    expected_file = case / "expected.json"
    if update_golden:
        expected_file.write_text(json.dumps(actual, indent=1) + "\n")
    assert actual == json.loads(expected_file.read_text())
