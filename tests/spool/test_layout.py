"""Spool directories of several receiver processes: one each, and orphans adopted by worker 0."""

import fcntl
from pathlib import Path

from receiver.spool import adopt_orphans, orphan_directories, worker_directory


def _segment(directory: Path, number: int, data: bytes, acks: bytes | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"segment-{number:012d}.spool"
    path.write_bytes(data)
    if acks is not None:
        path.with_suffix(".acks").write_bytes(acks)
    return path


def test_one_worker_uses_the_directory_itself_several_use_subdirectories(tmp_path: Path) -> None:
    assert worker_directory(tmp_path, 0, 1) == tmp_path
    assert worker_directory(tmp_path, 1, 3) == tmp_path / "worker-1"


def test_fewer_workers_adopt_what_the_removed_ones_left(tmp_path: Path) -> None:
    _segment(tmp_path / "worker-0", 1, b"own")
    _segment(tmp_path / "worker-1", 1, b"kept by its live owner")
    _segment(tmp_path / "worker-2", 1, b"first", acks=b"\x00" * 8)
    _segment(tmp_path / "worker-2", 2, b"second")
    assert orphan_directories(tmp_path, 2) == [tmp_path / "worker-2"]

    moved = adopt_orphans(tmp_path, tmp_path / "worker-0", 2)

    assert moved == 2
    own = sorted((p.name, p.read_bytes()) for p in (tmp_path / "worker-0").glob("segment-*"))
    assert own == [
        ("segment-000000000001.spool", b"own"),
        ("segment-000000000002.acks", b"\x00" * 8),  # the acks travel with their segment
        ("segment-000000000002.spool", b"first"),
        ("segment-000000000003.spool", b"second"),
    ]
    assert not list((tmp_path / "worker-2").glob("segment-*"))
    assert (tmp_path / "worker-1" / "segment-000000000001.spool").exists()


def test_one_to_many_and_back(tmp_path: Path) -> None:
    _segment(tmp_path, 4, b"from the single-process layout")
    assert orphan_directories(tmp_path, 2) == [tmp_path]
    adopt_orphans(tmp_path, tmp_path / "worker-0", 2)
    assert (tmp_path / "worker-0" / "segment-000000000001.spool").read_bytes() == (
        b"from the single-process layout"
    )
    _segment(tmp_path / "worker-1", 7, b"from worker 1")
    assert orphan_directories(tmp_path, 1) == [tmp_path / "worker-0", tmp_path / "worker-1"]
    assert adopt_orphans(tmp_path, tmp_path, 1) == 2
    assert sorted(p.read_bytes() for p in tmp_path.glob("segment-*.spool")) == [
        b"from the single-process layout",
        b"from worker 1",
    ]


def test_a_directory_locked_by_a_live_process_is_not_adopted(tmp_path: Path) -> None:
    _segment(tmp_path / "worker-5", 1, b"busy")
    with (tmp_path / "worker-5" / "spool.lock").open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert adopt_orphans(tmp_path, tmp_path / "worker-0", 2) == 0
    assert (tmp_path / "worker-5" / "segment-000000000001.spool").exists()
