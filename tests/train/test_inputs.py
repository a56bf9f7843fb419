"""Training from a code store: same loop, same metrics as from mp4 files."""

import json

import pytest

from tests.helpers import tiny_config
from vidrop.config import ConfigError
from vidrop.train.loop import pretrain


def test_pretrain_from_a_store_logs_the_same_metrics(synth_data, code_store, tmp_path):
    common = ("train.max_steps=3", "views.large_size=32", "views.small_size=16")
    from_files = pretrain(tiny_config(synth_data["train"], *common), tmp_path / "files")
    from_store = pretrain(tiny_config("", f"data.store={code_store}", *common), tmp_path / "store")
    a = [json.loads(x) for x in from_files.metrics.read_text().splitlines()]
    b = [json.loads(x) for x in from_store.metrics.read_text().splitlines()]
    assert len(a) == len(b) == 3 and set(a[-1]) == set(b[-1])
    assert b[-1]["clips_per_s"] > 0 and b[-1]["skipped_videos"] == 0
    assert (tmp_path / "store" / "export").exists()


def test_a_missing_store_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="data.store: .*vidrop compress encode"):
        pretrain(tiny_config("", f"data.store={tmp_path / 'nope'}"), tmp_path / "run")
