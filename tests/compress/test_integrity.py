"""A store checked where it is read: a truncated shard is one error before any work, a changed
video is skipped and named (the run finishes), a code >= k never reaches a lookup; the check's
files are written as every other output is (0644)."""

import json
import logging
import os
import shutil
import stat
import zlib

import numpy as np
import pytest

import vidrop.compress.store as store_mod
from tests.helpers import tiny_config
from vidrop.cli import main
from vidrop.compress.store import CodeStore
from vidrop.data.video import VideoError
from vidrop.train.loop import pretrain
from vidrop.train.metrics import read_metrics


@pytest.fixture
def copy(code_store, tmp_path):
    out = tmp_path / "store"
    shutil.copytree(code_store, out)
    return out


def change_video(store_dir, position: int, value: int) -> str:
    """Overwrite the codes of the store's `position`-th video with `value`; its source path."""
    store = CodeStore(store_dir)
    v = store.videos[position]
    shard = store_dir / "shards" / store.shards[v.shard].file
    data = np.fromfile(shard, dtype="<u2")
    data[v.offset : v.offset + v.n_codes] = value
    data.tofile(shard)
    return v.path


def test_every_video_carries_the_crc32_of_its_codes(code_store):
    store = CodeStore(code_store)
    for i, v in enumerate(store.videos):
        assert v.crc32 == zlib.crc32(np.ascontiguousarray(store.codes(i)))
        assert np.array_equal(store.checked_codes(i), store.codes(i))


def test_a_video_is_checked_once_a_process_unless_asked_on_every_read(copy):
    """Training checks each video on its first read in a worker (the store is read-only while
    it trains); `remember=False` checks every read, as the loader benchmark's first-epoch case."""
    store = CodeStore(copy)
    store.checked_codes(3)
    change_video(copy, 3, 5)  # the same file, rewritten in place: the open map sees it
    assert np.array_equal(store.checked_codes(3), store.codes(3))  # remembered as sound
    with pytest.raises(VideoError, match="CRC32"):
        store.checked_codes(3, remember=False)


def test_a_truncated_shard_is_one_clear_error_before_any_work(copy, synth_data, tmp_path, capsys):
    shard = sorted((copy / "shards").glob("*.codes"))[1]
    shard.write_bytes(shard.read_bytes()[:-100])
    args = ["pretrain", "--config", "tiny", "--out", str(tmp_path / "run"), f"data.store={copy}"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert shard.name in err and "vidrop compress verify" in err and "bytes" in err
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_a_changed_video_is_skipped_and_named_and_the_run_finishes(
    copy, synth_data, tmp_path, caplog
):
    path = change_video(copy, 4, 5)  # still valid codes (k = 64): only the CRC32 tells
    cfg = tiny_config(synth_data["train"], f"data.store={copy}", "train.max_steps=6")
    with caplog.at_level(logging.WARNING, logger="vidrop"):
        result = pretrain(cfg, tmp_path / "run")
    assert result.step == 6
    assert read_metrics(result.metrics)[-1]["skipped_videos"] == 1
    warned = [r.getMessage() for r in caplog.records if "skipped unreadable video" in r.message]
    assert len(warned) == 1 and path in warned[0] and "CRC32" in warned[0]


def test_a_code_beyond_the_codebook_is_refused_not_an_index_error(copy):
    """A store whose CRCs were rewritten to match (an encoder with the wrong k, a hand edit):
    the code range check still stands between the codes and the table lookup."""
    change_video(copy, 2, 65000)
    store = CodeStore(copy)
    v = store.videos[2]
    record_path = copy / "shards" / f"{store.shards[v.shard].file.removesuffix('.codes')}.json"
    record = json.loads(record_path.read_text())
    for entry in record["videos"]:
        if entry["path"] == v.path:
            entry["crc32"] = zlib.crc32(np.ascontiguousarray(store.codes(2)))
    record_path.write_text(json.dumps(record))
    index = json.loads((copy / "index.json").read_text())
    index["shards"] = [record if s["shard"] == record["shard"] else s for s in index["shards"]]
    (copy / "index.json").write_text(json.dumps(index))
    with pytest.raises(VideoError, match=r"code 65000, not below k=64"):
        CodeStore(copy).checked_codes(2)


def test_a_store_written_before_the_crc_checks_its_shard_once(copy, monkeypatch):
    """Old stores carry no CRC32: the shard's sha256 is checked on first use instead, once per
    process; a changed shard is refused."""
    for record_path in (copy / "shards").glob("*.json"):
        record = json.loads(record_path.read_text())
        for entry in record["videos"]:
            entry.pop("crc32", None)
        record_path.write_text(json.dumps(record))
    index = json.loads((copy / "index.json").read_text())
    for s in index["shards"]:
        for entry in s["videos"]:
            entry.pop("crc32", None)
    (copy / "index.json").write_text(json.dumps(index))
    hashed = []
    real = store_mod.sha256_file
    monkeypatch.setattr(store_mod, "sha256_file", lambda p: hashed.append(p) or real(p))
    store = CodeStore(copy)
    for position in (0, 1, 0, 2):  # videos 0-2 share the first shard (5 videos a shard)
        assert np.array_equal(store.checked_codes(position), store.codes(position))
    assert len(hashed) == 1
    change_video(copy, 1, 7)
    with pytest.raises(VideoError, match="sha256 differs"):
        CodeStore(copy).checked_codes(1)


def test_codebooks_and_stores_are_readable_by_others(code_store, codebook_path):
    umask = os.umask(0)
    os.umask(umask)
    want = 0o666 & ~umask
    files = [
        *code_store.rglob("*.json"),
        *code_store.rglob("*.codes"),
        *code_store.rglob("*.safetensors"),
        codebook_path.with_suffix(".safetensors"),
    ]
    assert files and {stat.S_IMODE(f.stat().st_mode) for f in files} == {want}
