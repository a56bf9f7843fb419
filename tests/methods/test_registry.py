"""Methods by name: the registry, scoped overrides, and a user's own method end to end."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vidrop.config import ConfigError
from vidrop.methods import get_method, method_names, resolve_config

ROOT = Path(__file__).parents[2]


def test_the_built_in_methods_are_registered_and_a_typo_gets_a_suggestion():
    from vidrop.config import METHODS

    assert method_names()[:3] == METHODS  # the torch-free list the command line offers
    assert get_method("dense").name == "dense"
    with pytest.raises(ConfigError, match="did you mean 'videomae'"):
        get_method("videomea")


def test_a_scoped_override_reaches_only_its_method():
    overrides = ["optim.batch_size=4", "videomae:mask.drop_ratio=0.75", "dense:optim.base_lr=3e-4"]
    cfgs = {m: resolve_config("tiny", overrides, method=m) for m in ("vidrop", "dense", "videomae")}
    assert {m: c.optim.batch_size for m, c in cfgs.items()} == dict.fromkeys(cfgs, 4)
    assert cfgs["videomae"].mask.drop_ratio == 0.75  # after its recipe's 0.9
    assert cfgs["vidrop"].mask.drop_ratio == 0.5 and cfgs["dense"].mask.drop_ratio == 0.0
    assert cfgs["dense"].optim.base_lr == 3e-4
    assert cfgs["vidrop"].optim.base_lr == 1e-3 and cfgs["videomae"].optim.base_lr == 3e-4
    with pytest.raises(ConfigError, match="unknown method 'mea'"):
        resolve_config("tiny", ["mea:optim.base_lr=1"])


def test_a_general_override_the_recipe_replaces_is_reported(caplog):
    cfg = resolve_config("tiny", ["optim.base_lr=1e-2"], method="videomae")
    assert cfg.optim.base_lr == pytest.approx(3e-4)
    assert "write videomae:optim.base_lr=1e-2" in caplog.text


def test_a_resolved_config_is_not_resolved_again(tmp_path):
    from vidrop.config import save_config

    cfg = resolve_config("tiny", ["videomae:mask.drop_ratio=0.75"], method="videomae")
    save_config(cfg, tmp_path / "config.yaml")
    again = resolve_config(tmp_path / "config.yaml")
    assert again == cfg  # VideoMAE's recipe would have reset the ratio to 0.9


@pytest.mark.slow
def test_a_users_method_is_compared_through_the_command_line(eval_data, tmp_path):
    """tests/methods/dino_only.py registered with --plugin; compare's child runs find it too."""
    tiny = [
        "data.num_workers=0",
        "optim.batch_size=4",
        "head.prototypes=32",
        "head.patch_prototypes=32",
        "head.hidden_dim=32",
        "head.bottleneck_dim=16",
        "views.small_clips=2",
        "model.depth=2",
    ]
    cmd = [
        sys.executable,
        "-m",
        "vidrop",
        "--plugin",
        "tests.methods.dino_only",
        "compare",
        "--data",
        eval_data["train"],
        "--val",
        eval_data["val"],
        "--out",
        str(tmp_path),
        "--methods",
        "vidrop,dino_only",
        "--steps",
        "2",
        "--no-attentive",
        *tiny,
    ]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "compare.json").read_text())
    mine = report["methods"]["dino_only"]
    assert mine["steps"] == 2 and set(mine["eval"]["knn"]) == {"10", "20", "100"}
    rows = [json.loads(x) for x in (Path(mine["backbone"]).parent / "metrics.jsonl").open()]
    assert [r["ibot_loss"] for r in rows] == [0.0, 0.0] and all(
        r["masked_tokens"] == 0 for r in rows
    )
    assert "vidrop vs dino_only" in report["gains"]
