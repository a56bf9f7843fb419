import pytest

from vidrop.atomic import WriteError, atomic_path, write_bytes_atomic


def test_the_file_appears_whole_and_no_temporary_stays(tmp_path):
    write_bytes_atomic(tmp_path / "a.json", b"old")
    write_bytes_atomic(tmp_path / "a.json", b"new")
    assert (tmp_path / "a.json").read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_a_failed_write_keeps_the_old_file_and_says_what_to_do(tmp_path):
    write_bytes_atomic(tmp_path / "a.json", b"old")
    with pytest.raises(WriteError) as info, atomic_path(tmp_path / "a.json") as tmp:
        tmp.write_bytes(b"half")
        raise OSError(28, "No space left on device")
    message = str(info.value)
    assert str(tmp_path / "a.json") in message and "No space left on device" in message
    assert "GiB free" in message and "run the same command again" in message
    assert isinstance(info.value.__cause__, OSError)
    assert (tmp_path / "a.json").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_an_interrupt_is_passed_on_unchanged(tmp_path):
    with pytest.raises(KeyboardInterrupt), atomic_path(tmp_path / "a.json") as tmp:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_the_temporary_keeps_the_extension_a_writer_insists_on(tmp_path):
    with atomic_path(tmp_path / "x.npy", ".tmp.npy") as tmp:
        assert tmp.name == "x.tmp.npy"
        tmp.write_bytes(b"1")
    with atomic_path(tmp_path / "c.pt") as tmp:
        assert tmp.name == "c.pt.tmp"
        tmp.write_bytes(b"1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt", "x.npy"]


def test_nothing_written_is_an_error_not_an_empty_file(tmp_path):
    """A writer that returned without creating the temporary must not leave an empty target."""
    with pytest.raises(WriteError, match="a.json"), atomic_path(tmp_path / "a.json"):
        pass
    assert list(tmp_path.iterdir()) == []
