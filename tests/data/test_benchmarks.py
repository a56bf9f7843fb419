"""Each reader on a small fixture in the benchmark's real file format."""

import json
from pathlib import Path

import pytest

from vidrop.data.benchmarks import (
    read_folders,
    read_hmdb51,
    read_kinetics,
    read_ssv2,
    read_ucf101,
    write_manifest,
)
from vidrop.data.manifest import ManifestError, read_manifest


def _touch(*paths: Path) -> None:
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")


def test_kinetics_csv_finds_flat_and_per_label_layouts_and_counts_missing(tmp_path, caplog):
    csv = tmp_path / "train.csv"
    csv.write_text(
        "label,youtube_id,time_start,time_end,split,is_cc\n"
        "abseiling,--07WQ2iBlw,1,11,train,0\n"
        "air drumming,-0HN8kP0pYc,30,40,train,0\n"
        "abseiling,gone_video_,5,15,train,0\n"
    )
    _touch(tmp_path / "v" / "train" / "--07WQ2iBlw_000001_000011.mp4")
    _touch(tmp_path / "v" / "train" / "air drumming" / "-0HN8kP0pYc_000030_000040.mp4")
    m = read_kinetics(csv, tmp_path / "v")
    assert [e.label for e in m.entries] == ["abseiling", "air drumming"]
    assert m.entries[1].path.endswith("train/air drumming/-0HN8kP0pYc_000030_000040.mp4")
    assert "1 of 3 videos are missing" in caplog.text
    with pytest.raises(ManifestError, match="1 of 3 videos are not under the root"):
        read_kinetics(csv, tmp_path / "v", allow_missing=False)


def test_ssv2_labels_come_from_the_template(tmp_path):
    labels = tmp_path / "labels.json"
    labels.write_text(
        json.dumps({"Holding something next to something": "40", "Opening something": "1"})
    )
    split = tmp_path / "validation.json"
    split.write_text(
        json.dumps(
            [
                {
                    "id": "74225",
                    "label": "holding a cup next to a vase",
                    "template": "Holding [something] next to [something]",
                    "placeholders": ["a cup", "a vase"],
                },
                {
                    "id": "116154",
                    "label": "opening a box",
                    "template": "Opening [something]",
                    "placeholders": ["a box"],
                },
            ]
        )
    )
    _touch(tmp_path / "v" / "74225.webm", tmp_path / "v" / "116154.webm")
    m = read_ssv2(labels, split, tmp_path / "v")
    assert [(Path(e.path).name, e.label) for e in m.entries] == [
        ("74225.webm", "40"),
        ("116154.webm", "1"),
    ]
    test = tmp_path / "test.json"
    test.write_text(json.dumps([{"id": "1"}]))
    with pytest.raises(ManifestError, match="test split has no labels"):
        read_ssv2(labels, test, tmp_path / "v")


def test_ucf101_train_and_test_lists(tmp_path):
    (tmp_path / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 ApplyLipstick\n")
    (tmp_path / "trainlist01.txt").write_text(
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\n"
        "ApplyLipstick/v_ApplyLipstick_g08_c01.avi 2\n"
    )
    (tmp_path / "testlist01.txt").write_text("ApplyLipstick/v_ApplyLipstick_g01_c01.avi\n")
    _touch(
        tmp_path / "v/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi",
        tmp_path / "v/ApplyLipstick/v_ApplyLipstick_g08_c01.avi",
        tmp_path / "v/ApplyLipstick/v_ApplyLipstick_g01_c01.avi",
    )
    train = read_ucf101(tmp_path / "trainlist01.txt", tmp_path / "classInd.txt", tmp_path / "v")
    test = read_ucf101(tmp_path / "testlist01.txt", tmp_path / "classInd.txt", tmp_path / "v")
    assert [e.label for e in train.entries] == ["0", "1"] and [e.label for e in test.entries] == [
        "1"
    ]


def test_hmdb51_split_codes(tmp_path):
    splits = tmp_path / "splits"
    splits.mkdir()
    (splits / "brush_hair_test_split1.txt").write_text("a.avi 1 \nb.avi 2 \nc.avi 0 \n")
    (splits / "cartwheel_test_split1.txt").write_text("d.avi 1 \n")
    _touch(
        *(
            tmp_path / "v" / c / f
            for c, f in [("brush_hair", "a.avi"), ("brush_hair", "b.avi"), ("cartwheel", "d.avi")]
        )
    )
    train = read_hmdb51(splits, tmp_path / "v", 1, "train")
    test = read_hmdb51(splits, tmp_path / "v", 1, "test")
    assert [(Path(e.path).name, e.label) for e in train.entries] == [
        ("a.avi", "brush_hair"),
        ("d.avi", "cartwheel"),
    ]
    assert [Path(e.path).name for e in test.entries] == ["b.avi"]


def test_folders_and_the_written_manifest_round_trip(tmp_path):
    _touch(tmp_path / "v/cat/1.mp4", tmp_path / "v/dog/2.webm", tmp_path / "v/dog/notes.txt")
    m = read_folders(tmp_path / "v")
    assert [e.label for e in m.entries] == ["cat", "dog"]
    back = read_manifest(write_manifest(m, tmp_path / "out.csv"))
    assert back.paths == m.paths and [e.label for e in back.entries] == ["cat", "dog"]
