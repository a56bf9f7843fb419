import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import vidrop.compress.encode as encode_mod
from tests.helpers import PATCH, K, manifest_rows
from vidrop.compress.encode import encode_dataset
from vidrop.compress.patches import compression_factor
from vidrop.compress.stats import store_stats, verify_store
from vidrop.compress.store import CodeStore, StoreError
from vidrop.data.video import read_frames


def test_store_index_and_codes(code_store, synth_data):
    store = CodeStore(code_store)
    assert len(store) == 12 and len(store.shards) == 3 and not store.failed
    v = store.videos[3]
    codes = store.codes(3)
    assert codes.dtype == np.uint16 and codes.shape == (v.frames, 64 // PATCH, 64 // PATCH)
    assert v.frames == 16 and v.label is not None and int(codes.max()) < K
    # the stored codes are the codebook's encoding of the decoded source frames
    frames = torch.from_numpy(read_frames(v.path, list(range(v.frames))))
    assert torch.equal(store.codebook.encode(frames), torch.from_numpy(codes.astype(np.int64)))


def test_verify_passes_then_catches_a_flipped_byte(code_store, tmp_path):
    assert verify_store(code_store).ok
    copy = tmp_path / "store"
    shutil.copytree(code_store, copy)
    shard = sorted((copy / "shards").glob("*.codes"))[1]
    data = bytearray(shard.read_bytes())
    data[11] ^= 0x01
    shard.write_bytes(bytes(data))
    report = verify_store(copy)
    assert not report.ok and "sha256" in report.problems[0] and shard.name in report.problems[0]
    # and the video whose codes the byte belongs to, by its CRC32
    assert len(report.problems) == 2 and "differ from their CRC32" in report.problems[1]


def test_stats_factor_and_psnr(code_store):
    s = store_stats(code_store, sample_videos=4, frames_per_video=4)
    assert s["factor_vs_raw"] == compression_factor(PATCH) == 96.0
    assert 15 < s["psnr_db"] < 60 and s["psnr_sample"]["videos"] == 4


def test_interrupted_encode_resumes_without_redoing_finished_shards(
    synth_data, codebook_path, code_store, tmp_path, monkeypatch
):
    calls = {"n": 0}
    real = encode_mod.codes_to_numpy

    def crash_on_seventh(codes):
        calls["n"] += 1
        if calls["n"] == 7:  # shard 1, second video
            raise KeyboardInterrupt
        return real(codes)

    monkeypatch.setattr(encode_mod, "codes_to_numpy", crash_on_seventh)
    out = tmp_path / "store"
    with pytest.raises(KeyboardInterrupt):
        encode_dataset(synth_data["train"], codebook_path, out, videos_per_shard=5, workers=0)
    assert (out / "shards" / "shard-00000.json").exists()
    assert not (out / "shards" / "shard-00001.json").exists()
    assert not list((out / "shards").glob("*.tmp")) and not (out / "index.json").exists()
    with pytest.raises(StoreError, match="run the same"):
        CodeStore(out)
    monkeypatch.setattr(encode_mod, "codes_to_numpy", real)
    r = encode_dataset(synth_data["train"], codebook_path, out, videos_per_shard=5, workers=0)
    assert r.complete and r.shards_skipped == 1 and r.shards_done == 2
    for shard in (code_store / "shards").glob("*.codes"):  # same bytes as an uninterrupted run
        assert (out / "shards" / shard.name).read_bytes() == shard.read_bytes()


def test_corrupt_video_is_listed_with_its_reason(synth_data, codebook_path, tmp_path):
    root = Path(synth_data["train"]).parent
    good = [f"{root / r['path']},{r['label']}" for r in manifest_rows(synth_data["train"])[:3]]
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00not an mp4")
    manifest = tmp_path / "m.csv"
    manifest.write_text("\n".join(["path,label", good[0], f"{broken},x", *good[1:]]) + "\n")
    r = encode_dataset(manifest, codebook_path, tmp_path / "store", workers=0)
    assert r.complete and r.failed == 1 and r.videos == 4
    store = CodeStore(tmp_path / "store")
    assert len(store) == 3 and store.failed[0].path == str(broken)
    assert "broken.mp4" in store.failed[0].error
    assert verify_store(tmp_path / "store").ok


def test_encode_into_a_store_made_differently_is_refused(synth_data, codebook_path, code_store):
    with pytest.raises(StoreError, match="other settings"):
        encode_dataset(synth_data["train"], codebook_path, code_store, videos_per_shard=7)
