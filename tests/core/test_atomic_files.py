"""A crash while writing leaves the previous good file in place and no temp files behind."""

from __future__ import annotations

import pytest

from qasynth_lib.files import atomic_directory, atomic_write


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "export.csv"
    target.write_text("good")
    with pytest.raises(RuntimeError), atomic_write(target, "w") as handle:
        handle.write("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["export.csv"]


def test_a_successful_write_replaces_the_file(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with atomic_write(target, "w") as handle:
        handle.write("new")
    assert target.read_text() == "new"


def test_a_failed_directory_write_keeps_the_old_directory(tmp_path):
    target = tmp_path / "adapter"
    target.mkdir()
    (target / "weights").write_text("v1")
    with pytest.raises(OSError), atomic_directory(target) as tmp:
        (tmp / "weights").write_text("partial")
        raise OSError("No space left on device")
    assert (target / "weights").read_text() == "v1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter"]
    with atomic_directory(target) as tmp:
        (tmp / "weights").write_text("v2")
    assert (target / "weights").read_text() == "v2"
