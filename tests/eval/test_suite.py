import json

import torch

from vidrop.eval.attentive import AttentiveConfig
from vidrop.eval.linear import LinearConfig
from vidrop.eval.propagate import PropagationConfig
from vidrop.eval.suite import SuiteConfig, run_suite
from vidrop.eval.views import EvalViews
from vidrop.models.vit import VideoViT, ViTConfig


def test_suite_writes_every_metric_for_every_backbone(eval_data, tmp_path):
    torch.manual_seed(0)
    cfg = ViTConfig(arch="vit_t", depth=1, num_frames=4, img_size=64)
    models = {"a": VideoViT(cfg).eval(), "b": VideoViT(cfg).eval()}
    suite = SuiteConfig(
        linear=LinearConfig(epochs=5, lrs=(0.01, 0.1), wds=(0.0,)),
        attentive=AttentiveConfig(epochs=2, lrs=(1e-3,)),
        lowshot_fractions=(0.5,),
        lowshot_seeds=(0, 1),
        propagate=eval_data["val"],
        propagate_limit=3,
        propagation=PropagationConfig(shifts=2),
    )
    views = EvalViews(frames=4, size=64, stride=2, clips=2)
    report = run_suite(models, eval_data["train"], eval_data["val"], views, suite, tmp_path, "cmd")
    saved = json.loads((tmp_path / "eval.json").read_text())
    assert saved == json.loads(json.dumps(report))
    for r in saved["backbones"].values():
        assert (r["classes"], r["n_train"], r["n_val"]) == (4, 24, 8)
        assert set(r["knn"]) == {"10", "20", "100"}
        assert 0 <= r["linear"]["top1"] <= 100 and 0 <= r["attentive"]["top1"] <= 100
        assert r["lowshot"][0]["videos"] == 12 and len(r["lowshot"][0]["linear_runs"]) == 2
        assert r["propagation"]["sequences"] + len(r["propagation"]["skipped"]) == 3
    table = (tmp_path / "eval.md").read_text()
    assert "| a |" in table and "| b |" in table and "J&F" in table and "`cmd`" in table


def test_patch_tokens_that_would_not_fit_are_refused_before_extracting():
    import pytest

    from vidrop.eval.errors import EvalError
    from vidrop.eval.suite import check_token_memory

    model = VideoViT(ViTConfig(arch="vit_b", depth=1, num_frames=16, img_size=224))
    views = EvalViews(frames=16, size=224, stride=4, clips=5, crops=3)
    check_token_memory(model, views, 100, 16.0)  # 100 videos: 3.4 GiB, fine
    with pytest.raises(EvalError, match=r"33\.6 GiB of patch tokens .*--no-attentive"):
        check_token_memory(model, views, 1000, 16.0)
