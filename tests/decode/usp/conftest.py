"""Generate the USP protobuf bindings before the test modules here import them.

Runs when pytest loads this conftest, i.e. before it collects (imports) the tests of this directory,
so a fresh clone's ``pytest`` works without a separate build step. The USP protos are named
explicitly so this does not depend on tools/gen_protos.py's defaults; the generator is a fast no-op
when the bindings are current (and regenerates them when a .proto changed), so it simply runs once.
"""

import subprocess
import sys
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[3]
_USP_DIR = _REPO_ROOT / "receiver" / "decode" / "usp"
_PROTOS = ("usp_record.proto", "usp_msg.proto")


def _ensure_bindings() -> None:
    result = subprocess.run(
        [sys.executable, str(_REPO_ROOT / "tools" / "gen_protos.py"), *(str(_USP_DIR / p) for p in _PROTOS)],
        cwd=_REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    generated = [_USP_DIR / "_pb" / p.replace(".proto", "_pb2.py") for p in _PROTOS]
    if result.returncode != 0 or not all(g.is_file() for g in generated):
        raise RuntimeError(f"tools/gen_protos.py failed ({result.returncode}):\n{result.stderr}")


_ensure_bindings()
