import pytest

from vidrop.data.manifest import ManifestError, read_manifest


def touch(tmp_path, *names):
    for n in names:
        (tmp_path / n).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / n).write_bytes(b"x")


def test_csv_with_header_and_relative_paths(tmp_path):
    touch(tmp_path, "v/a.mp4", "v/b.mp4")
    (tmp_path / "m.csv").write_text("path,label\nv/a.mp4,dog\nv/b.mp4,cat\n")
    m = read_manifest(tmp_path / "m.csv")
    assert m.paths == [str(tmp_path / "v/a.mp4"), str(tmp_path / "v/b.mp4")]
    assert m.class_names == ["cat", "dog"]


def test_csv_without_label_column(tmp_path):
    touch(tmp_path, "a.mp4")
    (tmp_path / "m.csv").write_text("path\na.mp4\n")
    assert read_manifest(tmp_path / "m.csv").entries[0].label is None


def test_videomae_space_separated_list(tmp_path):
    touch(tmp_path, "x/a b.mp4", "x/c.mp4")
    (tmp_path / "train.txt").write_text("x/a b.mp4 3\nx/c.mp4 10\n")
    m = read_manifest(tmp_path / "train.txt")
    assert [e.label for e in m.entries] == ["3", "10"]
    assert m.class_names == ["3", "10"]  # numeric labels sort numerically


def test_missing_files_are_listed_in_one_error_before_work(tmp_path):
    touch(tmp_path, "a.mp4")
    (tmp_path / "m.csv").write_text("path,label\na.mp4,0\nb.mp4,1\nc.mp4,1\n")
    with pytest.raises(ManifestError, match=r"m.csv: 2 of 3 videos do not exist.*b.mp4"):
        read_manifest(tmp_path / "m.csv")


def test_missing_and_empty_manifest(tmp_path):
    with pytest.raises(ManifestError, match="does not exist"):
        read_manifest(tmp_path / "nope.csv")
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(ManifestError, match="lists no videos"):
        read_manifest(tmp_path / "e.csv")


def test_entries_are_absolute_even_from_a_relative_manifest_path(tmp_path, monkeypatch):
    (tmp_path / "a.mp4").write_bytes(b"")
    (tmp_path / "m.csv").write_text("path\na.mp4\n")
    monkeypatch.chdir(tmp_path)
    m = read_manifest("m.csv")
    assert m.entries[0].path == str(tmp_path / "a.mp4")
