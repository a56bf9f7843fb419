import pytest

from vidrop.data.manifest import ManifestError
from vidrop.data.vsc import read_vsc


def _vsc(root, queries=("Q1", "Q2", "Q3"), refs=("R1", "R2"), gt=None):
    """The VSC layout: query/ and reference/ beside the metadata and ground-truth CSVs."""
    for folder, ids in (("query", queries), ("reference", refs)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in ids:
            (root / folder / f"{i}.mp4").write_bytes(b"")
    (root / "q.csv").write_text("video_id,duration_sec\n" + "".join(f"{i},10\n" for i in queries))
    (root / "r.csv").write_text("video_id,duration_sec\n" + "".join(f"{i},10\n" for i in refs))
    # one row per copied segment: Q1 copies two stretches of R1, and R2; Q3 copies nothing
    rows = gt or ["Q1,R1,0,5,0,5", "Q1,R1,6,8,6,8", "Q1,R2,0,2,3,5", "Q2,R2,1,4,1,4"]
    (root / "gt.csv").write_text(
        "query_id,ref_id,query_start,query_end,ref_start,ref_end\n" + "\n".join(rows) + "\n"
    )
    return root / "q.csv", root / "r.csv", root / "gt.csv"


def test_read_vsc_pairs_each_query_with_its_references(tmp_path):
    vsc = read_vsc(*_vsc(tmp_path))
    assert [p.split("/")[-2:] for p in vsc.queries.paths] == [
        ["query", "Q1.mp4"],
        ["query", "Q2.mp4"],
        ["query", "Q3.mp4"],
    ]
    assert len(vsc.references) == 2
    # segments of one pair count once; a query in no row is a distractor
    assert vsc.originals == [("R1.mp4", "R2.mp4"), ("R2.mp4",), ()] and vsc.true_pairs == 3


def test_read_vsc_takes_video_folders_and_names_what_is_missing(tmp_path):
    files = _vsc(tmp_path / "a")
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(ManifestError, match=r"3 of 3 videos are not in .*elsewhere"):
        read_vsc(*files, query_videos=tmp_path / "elsewhere")
    files = _vsc(tmp_path / "b", gt=["Q1,R7,0,1,0,1"])
    with pytest.raises(ManifestError, match=r"ids not in the metadata CSVs \(first: \['R7'\]"):
        read_vsc(*files)
    (tmp_path / "b" / "bad.csv").write_text("id\nQ1\n")
    with pytest.raises(ManifestError, match="no \\['video_id'\\] column"):
        read_vsc(tmp_path / "b" / "bad.csv", *files[1:])
