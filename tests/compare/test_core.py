"""`vidrop compare` on tiny data: every method trains and is evaluated, budgets are honoured, a
rerun resumes, a failing method leaves the others' results, VideoMAE's backbone is transformers'."""

import json
from pathlib import Path

import pytest
import torch

from vidrop.cli import main
from vidrop.compare import Budget, CompareSpec, run_compare
from vidrop.compare.budget import Calibration, steps_for
from vidrop.config import ConfigError
from vidrop.eval.settings import LinearConfig, SuiteConfig

transformers = pytest.importorskip("transformers")  # VideoMAE is transformers' own

TINY = [
    "data.num_workers=0",
    "optim.batch_size=4",
    "head.prototypes=32",
    "head.patch_prototypes=32",
    "head.hidden_dim=32",
    "head.bottleneck_dim=16",
    "views.small_clips=2",
    "model.depth=2",
    "optim.epochs=2",
    "optim.warmup_epochs=0.5",
    "optim.warmup_teacher_temp_epochs=0.5",
    "optim.freeze_last_layer_epochs=0.5",
]
SUITE = SuiteConfig(
    linear=LinearConfig(epochs=2, lrs=(0.1,), wds=(0.0,)), attentive=None, lowshot_fractions=()
)


def spec(data: dict, out: Path, **kw) -> CompareSpec:
    return CompareSpec(
        train=data["train"], val=data["val"], out=out, overrides=TINY, suite=SUITE, **kw
    )


@pytest.fixture(scope="module")
def compared(eval_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    report = run_compare(spec(eval_data, out, budget=Budget("steps", 4), curve=2))
    return out, report


@pytest.mark.slow
def test_every_method_trains_the_same_encoder_and_is_scored(compared):
    out, report = compared
    m = report["methods"]
    assert list(m) == ["vidrop", "dense", "videomae", "random_init", "random_init_mean"]
    for name in ("vidrop", "dense", "videomae"):
        assert m[name]["steps"] == 4 and [p["step"] for p in m[name]["curve"]] == [2, 4]
        assert all(set(p["knn"]) == {"10", "20", "100"} for p in m[name]["curve"])
        assert m[name]["train_tflop"] == pytest.approx(4 * m[name]["tflop_per_step"])
    # the same encoder: width 192, 2 blocks, 4x4 patches of 8x64x64 clips
    from vidrop.models.load import load_backbone

    shapes = set()
    for name in ("vidrop", "dense", "videomae"):
        model, _ = load_backbone(m[name]["backbone"], with_meta=True)
        c = model.cfg
        shapes.add(
            (c.embed_dim, c.depth, c.num_heads, c.patch_size, c.tubelet, c.num_frames, c.img_size)
        )
    assert shapes == {(192, 2, 3, 16, 2, 8, 64)}
    assert [m[n]["feature"] for n in m] == ["cls", "cls", "mean", "cls", "mean"]
    assert set(report["gains"]) == {
        "vidrop vs dense",
        "vidrop vs videomae",
        "vidrop vs random_init",
        "dense vs random_init",
        "videomae vs random_init_mean",
    }
    g = report["gains"]["vidrop vs videomae"]["kNN k=20"]
    v, mae = m["vidrop"]["eval"]["knn"]["20"], m["videomae"]["eval"]["knn"]["20"]
    assert g["per_seed"]["0"]["gain"] == pytest.approx(v - mae)
    assert (out / "compare.md").read_text().count("| vidrop |") == 2  # cost and accuracy rows
    assert (out / "compare.png").stat().st_size > 1000


@pytest.mark.slow
def test_videomae_backbone_reloaded_gives_transformers_outputs(compared):
    from vidrop.models.load import load_backbone

    _, report = compared
    export = report["methods"]["videomae"]["backbone"]
    ours, meta = load_backbone(export, with_meta=True)
    assert meta["format"] == "hf-videomae" and meta["eval"]["stride"] == 2
    theirs = transformers.VideoMAEModel.from_pretrained(export).eval()
    video = torch.randn(2, 3, 8, 64, 64)
    with torch.no_grad():
        want = theirs(pixel_values=video.transpose(1, 2)).last_hidden_state
    torch.testing.assert_close(ours.forward_features(video)["patch"], want, atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_a_rerun_resumes_without_training_or_evaluating_again(compared, eval_data, monkeypatch):
    out, report = compared

    def never(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr("vidrop.compare.runs.train_child", never)
    monkeypatch.setattr("vidrop.eval.suite.evaluate_backbone", never)
    again = run_compare(spec(eval_data, out, budget=Budget("steps", 4), curve=2))
    for name in ("vidrop", "dense", "videomae", "random_init"):
        assert again["methods"][name]["eval"]["knn"] == report["methods"][name]["eval"]["knn"]


@pytest.mark.slow
def test_a_seconds_budget_stops_each_method_within_one_step(eval_data, tmp_path, monkeypatch):
    monkeypatch.setattr("vidrop.compare.core.CALIBRATION_STEPS", 6)
    budget = 3.0
    report = run_compare(
        spec(eval_data, tmp_path, budget=Budget("seconds", budget), methods=("vidrop", "videomae"))
    )
    for name in ("vidrop", "videomae"):
        e = report["methods"][name]
        records = [
            json.loads(x)
            for x in (Path(e["backbone"]).parent / "metrics.jsonl").read_text().splitlines()
        ]
        before = records[-2]["seconds"] if len(records) > 1 else 0.0
        assert before < budget  # the last step began inside the budget...
        assert e["pretrain_seconds"] == records[-1]["seconds"]  # ...and the run ended with it
        assert e["pretrain_seconds"] >= budget or e["steps"] == e["steps_planned"]


@pytest.mark.slow
def test_a_failing_method_leaves_the_others_results(eval_data, tmp_path):
    # a 96-wide decoder cannot have 7 heads: transformers refuses to build it in VideoMAE's run
    s = spec(eval_data, tmp_path, budget=Budget("steps", 2), methods=("vidrop", "videomae"))
    s.overrides = [*TINY, "videomae:decoder.heads=7"]
    report = run_compare(s)
    assert (
        "error" in report["methods"]["videomae"]
        and "heads" in (tmp_path / "videomae.error.txt").read_text()
    )
    assert report["methods"]["vidrop"]["eval"]["knn"]["20"] >= 0
    assert "failed" in (tmp_path / "compare.md").read_text()


def test_seconds_become_steps_from_the_measured_timings():
    cal = Calibration((1.0, 1.5, 2.0, 2.5, 3.0, 3.5), flops_per_step=2e12)
    assert cal.step_seconds == 0.5
    assert steps_for(Budget("seconds", 1.6), cal) == 2  # inside the calibration: counted
    assert steps_for(Budget("seconds", 5.0), cal) == 6 + 3  # beyond: 1.5 s more at 0.5 s a step
    assert steps_for(Budget("tflop", 9.0), cal) == 4
    assert steps_for(Budget("steps", 7), None) == 7
    with pytest.raises(ValueError):
        Budget("hours", 1)


def test_a_setting_a_method_cannot_train_stops_before_any_work(eval_data, tmp_path):
    # transformers' VideoMAE has no key bias: refused when the comparison starts, not hours in
    s = spec(eval_data, tmp_path, budget=Budget("steps", 2), methods=("vidrop", "videomae"))
    s.overrides = [*TINY, "model.qkv_bias=qkv"]
    with pytest.raises(ConfigError, match="qkv_bias"):
        run_compare(s)
    assert not (tmp_path / "runs").exists()


def test_the_cli_needs_data_and_one_budget(tmp_path, capsys):
    assert main(["compare", "--out", str(tmp_path)]) == 2
    assert "--data TRAIN.csv and --val" in capsys.readouterr().err
    assert (
        main(["compare", "--synth", "--out", str(tmp_path), "--steps", "3", "--budget-s", "9"]) == 2
    )
    assert "one of --budget-s" in capsys.readouterr().err


def test_the_lr_grid_is_widened_while_its_best_factor_is_at_an_edge(
    eval_data, tmp_path, monkeypatch
):
    """Held-out kNN peaking at x9: the grid (x1/3, x1, x3) widens twice upwards, then stops."""
    from vidrop.compare.core import Comparison
    from vidrop.compare.runs import MethodRun

    tried = []

    def fake_train(self, method, seed, factor, budget, curve):
        tried.append(factor)
        return MethodRun(str(tmp_path / f"x{factor:g}"), 1)

    monkeypatch.setattr(Comparison, "train", fake_train)
    monkeypatch.setattr(
        "vidrop.compare.core.heldout_knn",
        lambda export, *a: -abs(float(export.parent.name[1:]) - 9),
    )
    cmp = Comparison(spec(eval_data, tmp_path, budget=Budget("steps", 1), lr_grid=(1 / 3, 1, 3)))
    cmp.choose_lr("vidrop")
    assert [round(f, 3) for f in tried] == [0.333, 1, 3, 9, 27]
    assert cmp.lr_factor["vidrop"] == pytest.approx(9)
    assert [g["factor"] for g in cmp.lr_grid["vidrop"]] == tried
