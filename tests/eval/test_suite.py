import json
from dataclasses import replace

import pytest
import torch

from vidrop.eval.attentive import AttentiveConfig
from vidrop.eval.errors import EvalError
from vidrop.eval.linear import LinearConfig
from vidrop.eval.propagate import PropagationConfig
from vidrop.eval.suite import SuiteBackbone, SuiteConfig, format_gain, run_suite
from vidrop.eval.views import EvalViews
from vidrop.models.vit import VideoViT, ViTConfig


def test_suite_writes_every_metric_for_every_backbone(eval_data, tmp_path, capfd):
    torch.manual_seed(0)
    cfg = ViTConfig(arch="vit_t", depth=1, num_frames=4, img_size=64)
    models = {"a": VideoViT(cfg).eval(), "b": VideoViT(cfg).eval()}
    suite = SuiteConfig(
        linear=LinearConfig(epochs=5, lrs=(0.01, 0.1), wds=(0.0,)),
        attentive=AttentiveConfig(epochs=2, min_steps=0, lrs=(1e-3,)),
        lowshot_fractions=(0.5,),
        lowshot_seeds=(0, 1),
        propagate=eval_data["val"],
        propagate_limit=3,
        propagation=PropagationConfig(shifts=2),
    )
    views = EvalViews(frames=4, size=64, stride=2, clips=2)
    backbones = {
        "a": SuiteBackbone(models["a"], views, floor="b"),
        "b": SuiteBackbone(models["b"], views),
    }
    report = run_suite(backbones, eval_data["train"], eval_data["val"], suite, tmp_path, "cmd")
    saved = json.loads((tmp_path / "eval.json").read_text())
    assert saved == json.loads(json.dumps(report))
    for r in saved["backbones"].values():
        assert (r["classes"], r["n_train"], r["n_val"]) == (4, 24, 8)
        assert set(r["knn"]) == {"10", "20", "100"}
        videos = r["per_video"]
        for probe in ("linear", "attentive"):  # the top-1 is the share of right predictions
            right = [
                p == y for p, y in zip(videos["predictions"][probe], videos["labels"], strict=True)
            ]
            assert r[probe]["top1"] == pytest.approx(100 * sum(right) / 8)
        assert r["lowshot"][0]["videos"] == 12 and len(r["lowshot"][0]["linear_runs"]) == 2
        assert r["propagation"]["sequences"] + len(r["propagation"]["skipped"]) == 3
    table = (tmp_path / "eval.md").read_text()
    assert "| a |" in table and "| b |" in table and "J&F" in table and "`cmd`" in table
    assert "attentive probe trained 2 epochs" in table  # min_steps 0: the configured epochs
    # a's paired gains over the baseline b: the same numbers as the difference of their rows
    a, b = saved["backbones"]["a"], saved["backbones"]["b"]
    gains = saved["gains"]
    assert set(gains) == {"a"} and saved["floors"] == {"a": "b"}
    assert set(gains["a"]) == {"kNN k=10", "kNN k=20", "kNN k=100", "linear", "attentive", "J&F"}
    assert gains["a"]["kNN k=20"]["gain"] == pytest.approx(a["knn"]["20"] - b["knn"]["20"])
    assert gains["a"]["linear"]["gain"] == pytest.approx(a["linear"]["top1"] - b["linear"]["top1"])
    jf = a["propagation"]["jf_mean"] - b["propagation"]["jf_mean"]
    assert gains["a"]["J&F"]["gain"] == pytest.approx(jf, abs=1e-4)
    for g in gains["a"].values():
        assert g["low"] <= g["gain"] <= g["high"] and g["items"] in (
            8,
            3 - len(b["propagation"]["skipped"]),
        )
    assert "Gains in points, each with its 95% paired bootstrap interval" in table
    assert "| a | b | " + format_gain(gains["a"]["kNN k=10"]) in table
    # every probe shows its progress to the end (plain lines off a terminal): never silent
    err = capfd.readouterr().err
    for line in (
        "a linear probe: 10/10 ",
        "a low-shot: 2/2 ",
        "a attentive probe: 2/2 ",
        "b linear probe: 10/10 ",
    ):
        assert line in err, line


def test_a_floor_that_is_not_evaluated_is_refused(eval_data, tmp_path):
    model = VideoViT(ViTConfig(arch="vit_t", depth=1, num_frames=4, img_size=64)).eval()
    views = EvalViews(frames=4, size=64, stride=2, clips=1)
    with pytest.raises(EvalError, match=r"\['random init'\] are compared against but not"):
        run_suite(
            {"a": SuiteBackbone(model, views, floor="random init")},
            eval_data["train"],
            eval_data["val"],
            SuiteConfig(),
            tmp_path,
            "cmd",
        )


def test_each_backbone_reads_its_own_feature_and_cached_results_are_reused(eval_data, tmp_path):
    """A CLS-less backbone is scored on its mean patch token (named so); a backbone evaluated
    once is read back from the cache, with the same numbers as a fresh evaluation."""
    torch.manual_seed(0)
    cls_cfg = ViTConfig(arch="vit_t", depth=1, num_frames=4, img_size=64)
    views = EvalViews(frames=4, size=64, stride=2, clips=1)
    backbones = {
        "with_cls": SuiteBackbone(VideoViT(cls_cfg).eval(), views, "cls"),
        "no_cls": SuiteBackbone(VideoViT(replace(cls_cfg, cls_token=False)).eval(), views, "cls"),
    }
    suite = SuiteConfig(
        linear=LinearConfig(epochs=2, lrs=(0.1,), wds=(0.0,)), attentive=None, lowshot_fractions=()
    )
    data = (eval_data["train"], eval_data["val"], suite)
    cache = {n: tmp_path / "cache" / f"{n}.json" for n in backbones}
    first = run_suite(
        backbones, *data, tmp_path / "a", "cmd", pairs=(("with_cls", "no_cls"),), cache=cache
    )
    assert [r["feature"] for r in first["backbones"].values()] == ["cls", "mean"]
    assert set(first["pairs"]) == {"with_cls vs no_cls"}
    (tmp_path / "cache" / "no_cls.json").write_text(
        (tmp_path / "cache" / "no_cls.json")
        .read_text()
        .replace('"feature": "mean"', '"feature": "cached"')
    )
    again = run_suite(backbones, *data, tmp_path / "b", "cmd", cache=cache)
    assert again["backbones"]["no_cls"]["feature"] == "cached"  # read back, not recomputed
    fresh = run_suite({"with_cls": backbones["with_cls"]}, *data, tmp_path / "c", "cmd")
    assert fresh["backbones"]["with_cls"]["knn"] == first["backbones"]["with_cls"]["knn"]
    same = ("top1", "top5", "lr")
    assert [fresh["backbones"]["with_cls"]["linear"][k] for k in same] == [
        first["backbones"]["with_cls"]["linear"][k] for k in same
    ]


def test_patch_tokens_beyond_the_memory_budget_stream_from_disk(eval_data, tmp_path):
    """A budget that forces streaming (tokens written to OUT/tokens, memory-mapped, then
    deleted) gives exactly the in-memory attentive result."""
    from vidrop.eval.suite import token_gib

    big = VideoViT(ViTConfig(arch="vit_b", depth=1, num_frames=16, img_size=224))
    assert token_gib(big, EvalViews(16, 224, 4, clips=5, crops=3), 1000) == pytest.approx(
        33.6, 0.01
    )
    torch.manual_seed(0)
    model = VideoViT(ViTConfig(arch="vit_t", depth=1, num_frames=4, img_size=64)).eval()
    views = EvalViews(frames=4, size=64, stride=2, clips=2)
    suite = SuiteConfig(
        linear=LinearConfig(epochs=2, lrs=(0.1,), wds=(0.0,)),
        lowshot_fractions=(),
        attentive=AttentiveConfig(epochs=2, min_steps=0, lrs=(1e-3,)),
    )
    data = (eval_data["train"], eval_data["val"])
    held = run_suite({"a": SuiteBackbone(model, views)}, *data, suite, tmp_path / "m", "cmd")
    streamed = run_suite(
        {"a": SuiteBackbone(model, views)},
        *data,
        replace(suite, max_token_gib=1e-6),
        tmp_path / "s",
        "cmd",
    )
    a, b = held["backbones"]["a"]["attentive"], streamed["backbones"]["a"]["attentive"]
    assert a == b
    assert (tmp_path / "s" / "tokens").is_dir() and not list((tmp_path / "s" / "tokens").iterdir())
    assert not (tmp_path / "m" / "tokens").exists()


def test_gains_print_with_their_interval_whose_bounds_keep_their_sign_at_zero():
    assert format_gain({"gain": 15.04, "low": 9.36, "high": 20.61}) == "+15.0 [+9.4, +20.6]"
    assert format_gain({"gain": -1e-9, "low": -0.04, "high": 3.0}) == "+0.0 [-0.0, +3.0]"
    assert format_gain({"gain": 2.0, "low": 0.01, "high": 3.0}) == "+2.0 [+0.0, +3.0]"
    assert format_gain({"gain": 2.0, "low": 0.0, "high": 3.0}) == "+2.0 [0.0, +3.0]"
    assert format_gain({"gain": -2.0, "low": -3.0, "high": -0.04}) == "-2.0 [-3.0, -0.0]"
