"""Generate the Sparkplug protobuf bindings before the test modules here import them.

This runs when pytest loads this conftest, i.e. before it collects (imports) the test modules of
this directory, so a fresh clone's ``pytest`` works without a separate build step. The generator
is a fast no-op when the bindings are current, so it simply runs once per session.
"""

import subprocess
import sys
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[3]
_GENERATED = _REPO_ROOT / "receiver" / "decode" / "sparkplug" / "_pb" / "sparkplug_b_pb2.py"


def _ensure_bindings() -> None:
    result = subprocess.run(
        [sys.executable, str(_REPO_ROOT / "tools" / "gen_protos.py")],
        cwd=_REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not _GENERATED.is_file():
        raise RuntimeError(f"tools/gen_protos.py failed ({result.returncode}):\n{result.stderr}")


_ensure_bindings()
