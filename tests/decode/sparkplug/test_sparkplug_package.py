"""The package surface, the missing-bindings message and tools/gen_protos.py."""

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import receiver.decode.sparkplug as sparkplug

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(sparkplug) if not name.startswith("_")}
    assert set(sparkplug.__all__) == public
    assert sorted(sparkplug.__all__, key=str.casefold) == sorted(set(sparkplug.__all__), key=str.casefold)


def test_missing_bindings_raise_import_error_with_instructions() -> None:
    # Simulate a fresh clone: the generated package cannot be imported.
    code = "import sys; sys.modules['receiver.decode.sparkplug._pb'] = None; import receiver.decode.sparkplug"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "run `python tools/gen_protos.py`" in result.stderr


@pytest.fixture
def gen_protos(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """tools/ is not a package: load the script as a module (registered, as dataclasses require)."""
    spec = importlib.util.spec_from_file_location("gen_protos", REPO_ROOT / "tools" / "gen_protos.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "gen_protos", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def protos(tmp_path: Path) -> list[Path]:
    first = tmp_path / "first.proto"
    first.write_text('syntax = "proto2";\npackage test.first;\nmessage Ping { optional uint64 id = 1; }\n')
    second = tmp_path / "second.proto"
    second.write_text('syntax = "proto3";\npackage test.second;\nmessage Pong { string text = 1; }\n')
    return [first, second]


def test_generates_modules_and_stubs_for_a_list_of_protos(gen_protos: ModuleType, protos: list[Path]) -> None:
    assert gen_protos.main([str(p) for p in protos]) == 0
    out = protos[0].parent / "_pb"
    for stem in ("first", "second"):
        assert (out / f"{stem}_pb2.py").is_file()
        assert (out / f"{stem}_pb2.pyi").read_text().startswith("# mypy: ignore-errors\n")
    assert (out / "__init__.py").is_file()
    spec = importlib.util.spec_from_file_location("first_pb2_under_test", out / "first_pb2.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.Ping(id=7).SerializeToString() == b"\x08\x07"


def test_second_run_is_a_no_op_until_a_proto_changes(gen_protos: ModuleType, protos: list[Path]) -> None:
    paths = [str(p) for p in protos]
    assert gen_protos.generate(paths) == [protos[0].parent / "_pb"]
    generated = protos[0].parent / "_pb" / "first_pb2.py"
    before = generated.stat().st_mtime_ns
    assert gen_protos.generate(paths) == []
    assert generated.stat().st_mtime_ns == before
    assert gen_protos.main(["--check", *paths]) == 0
    protos[0].write_text(protos[0].read_text().replace("id = 1;", "id = 1; optional string tag = 2;"))
    assert gen_protos.main(["--check", *paths]) == 1
    assert gen_protos.generate(paths) == [protos[0].parent / "_pb"]
    assert gen_protos.main(["--check", *paths]) == 0


def test_invalid_proto_fails_with_exit_code_2(gen_protos: ModuleType, tmp_path: Path) -> None:
    broken = tmp_path / "broken.proto"
    broken.write_text('syntax = "proto2";\nmessage Broken { optional nosuchtype x = 1; }\n')
    assert gen_protos.main([str(broken)]) == 2
    assert gen_protos.main([str(tmp_path / "missing.proto")]) == 2


def test_project_bindings_are_current(gen_protos: ModuleType) -> None:
    # conftest.py generated them; a changed sparkplug_b.proto must not go unnoticed.
    assert gen_protos.stale() == []
