"""`vidrop compare` on tiny data: every method is tuned alike, trains and is evaluated, budgets
are honoured, a rerun resumes, a failing method leaves the others' results, VideoMAE's backbone is
transformers'."""

import math
from pathlib import Path

import pytest
import torch

from vidrop.cli import main
from vidrop.compare import Budget, CompareSpec, run_compare
from vidrop.compare.budget import Calibration, steps_for
from vidrop.config import ConfigError
from vidrop.eval.settings import LinearConfig, SuiteConfig
from vidrop.tokens import num_kept

transformers = pytest.importorskip("transformers")  # VideoMAE is transformers' own

FLOORS = {"random_init", "random_init_mean"}
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
    kw = {"lrs": (), **kw}  # no tuning unless a test asks for it
    return CompareSpec(
        train=data["train"], val=data["val"], out=out, overrides=TINY, suite=SUITE, **kw
    )


# a real tuning of every method, its smallest: one peak lr times the knob's two settings, each
# trial a quarter of the 8-step budget; every part each method exports evaluated
TUNED = {
    "budget": Budget("steps", 8),
    "curve": 2,
    "lrs": (1e-3,),
    "trial_share": 0.25,
    "all_parts": True,  # ViDROP's student too, as its own row
}


@pytest.fixture(scope="module")
def compared(eval_data, tmp_path_factory):
    """The comparison's folder, its report, and every manifest the selection scores read."""
    from vidrop.compare import tuning

    out, read, real = tmp_path_factory.mktemp("compare"), [], tuning.export_features

    def spy(export, sets, device, what):
        read.extend(sets.values())
        return real(export, sets, device, what)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tuning, "export_features", spy)
        return out, run_compare(spec(eval_data, out, **TUNED)), read


@pytest.mark.slow
def test_every_method_is_tuned_alike_trains_the_same_encoder_and_is_scored(compared):
    out, report, _ = compared
    m = report["methods"]
    students = {"vidrop:student", "dense:student"}  # dense trains a teacher and a student too
    assert set(m) == {"vidrop", "dense", "videomae"} | students | FLOORS
    assert (m["vidrop"]["part"], m["vidrop:student"]["part"]) == ("teacher", "student")
    knobs = {
        "vidrop": [{"mask.drop_ratio": 0.5}, {"mask.drop_ratio": 0.75}],
        "dense": [
            {"mask.mask_prob": 0.5, "mask.mask_ratio": [0.1, 0.5]},
            {"mask.mask_prob": 1.0, "mask.mask_ratio": [0.5, 0.7]},
        ],
        "videomae": [{"mask.drop_ratio": 0.9}, {"mask.drop_ratio": 0.75}],
    }
    for name in ("vidrop", "dense", "videomae"):
        e = m[name]
        assert [t["settings"] for t in e["tuning"]] == knobs[name]
        assert [(t["lr"], t["steps"]) for t in e["tuning"]] == [(1e-3, 2), (1e-3, 2)]
        assert all(set(t["heldout"]) == {"knn", "linear"} for t in e["tuning"])
        assert all(t["seconds"] > 0 and t["tflop"] > 0 for t in e["tuning"])
        (own,) = [t for t in e["tuning"] if t["settings"] == e["settings"]]
        assert own["tflop"] == pytest.approx(2 * e["tflop_per_step"])  # 2 steps of the final's
        best = max(e["tuning"], key=lambda t: sum(t["heldout"].values()))
        assert e["settings"] == best["settings"] and e["peak_lr"] == 1e-3
        assert e["steps"] == 8 and [p["step"] for p in e["curve"]] == [4, 8]
        assert all(set(p["knn"]) == {"10", "20", "100"} for p in e["curve"])
        assert e["train_tflop"] == pytest.approx(8 * e["tflop_per_step"])
        assert {"min_lr", "visible_tokens", "part", "warmup_share"} <= set(e)
    assert m["dense"]["visible_tokens"] == 64 and m["vidrop"]["part"] == "teacher"
    ratio = m["videomae"]["settings"]["mask.drop_ratio"]
    assert m["videomae"]["visible_tokens"] == 4 * num_kept(16, ratio)  # kept tubes, 4 tubelets
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
    features = {n: m[n]["feature"] for n in m}
    assert features == dict.fromkeys(m, "cls") | {"videomae": "mean", "random_init_mean": "mean"}
    assert set(report["gains"]) == {
        "vidrop vs dense",
        "vidrop vs videomae",
        "vidrop vs random_init",
        "dense vs random_init",
        "videomae vs random_init_mean",
        # the students: the reference over each, each over its random start
        "vidrop vs vidrop:student",
        "vidrop vs dense:student",
        "vidrop:student vs random_init",
        "dense:student vs random_init",
    }
    g = report["gains"]["vidrop vs videomae"]["kNN k=20"]
    v, mae = m["vidrop"]["eval"]["knn"]["20"], m["videomae"]["eval"]["knn"]["20"]
    assert g["per_seed"]["0"]["gain"] == pytest.approx(v - mae)
    md = (out / "compare.md").read_text()
    assert md.count("| vidrop |") == 6  # recipe, tuning bill, two trials, cost, accuracy
    assert md.count("| vidrop:student |") == 2  # recipe (part: student), accuracy
    assert "## Tuning trials" in md and "**chosen**" in md
    assert (out / "compare.png").stat().st_size > 1000


@pytest.mark.slow
def test_the_choices_read_training_videos_only(compared, eval_data):
    """The held-out scores that choose between trials read the training videos, once a trial,
    none of them a val one."""
    from vidrop.data.manifest import read_manifest

    _, report, read = compared
    val = set(read_manifest(eval_data["val"]).paths)
    train = read_manifest(eval_data["train"]).paths
    methods = [e for name, e in report["methods"].items() if ":" not in name]
    runs = sum(len(e.get("tuning", [])) + len(e.get("finalists", [])) for e in methods)
    assert len(read) == runs == 3 * 2  # 3 methods, 2 trials each (1 lr: no finalists)
    assert all(m.paths == train and not set(m.paths) & val for m in read)


@pytest.mark.slow
def test_videomae_backbone_reloaded_gives_transformers_outputs(compared):
    from vidrop.models.load import load_backbone

    _, report, _ = compared
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
    out, report, _ = compared

    def never(*args, **kwargs):
        raise AssertionError("a finished run was trained or scored again")

    monkeypatch.setattr("vidrop.compare.runs.train_child", never)
    monkeypatch.setattr("vidrop.eval.suite.evaluate_backbone", never)
    monkeypatch.setattr("vidrop.compare.core.heldout_scores", never)
    again = run_compare(spec(eval_data, out, **TUNED))
    for name in ("vidrop", "dense", "videomae", "random_init"):
        assert again["methods"][name]["eval"]["knn"] == report["methods"][name]["eval"]["knn"]
    assert again["methods"]["dense"]["tuning"] == report["methods"]["dense"]["tuning"]


def test_every_method_gets_the_same_trials_and_the_best_held_out_score_wins(
    eval_data, tmp_path, monkeypatch
):
    """Every peak lr x both knob settings for each method, each a quarter of the budget, scored
    on held-out training videos only; the best mean of kNN and linear wins, and while a best lr
    sits on the grid's edge the grid grows, for every method alike."""
    from vidrop.compare.core import Comparison
    from vidrop.compare.runs import MethodRun

    trained = []

    def fake_train(self, method, cfg, seed, budget, label, curve=False):
        trained.append((method, cfg.optim.base_lr, cfg.optim.lr_scaling, budget, label))
        return MethodRun(str(tmp_path / f"{len(trained)}"), 2, 2)

    def fake_scores(self, run, label):  # best at lr 3e-3, above the asked grid; knob-blind
        lr = float(label.split(" lr ")[1].split()[0])
        return {"knn": 50.0 - 10 * abs(math.log10(lr / 3e-3)), "linear": 50.0}

    monkeypatch.setattr(Comparison, "train", fake_train)
    monkeypatch.setattr(Comparison, "heldout", fake_scores)
    cmp = Comparison(spec(eval_data, tmp_path, budget=Budget("steps", 40), lrs=(1e-3, 1e-4, 3e-4)))
    assert cmp.tune_all() == {}
    grid = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)  # 1e-3 on the edge, then 3e-3: two widenings
    assert cmp.lrs == grid
    trial_budget = Budget("steps", 10)
    for m in cmp.spec.methods:
        runs = {(lr, s, b, label.split(" lr ")[1]) for mm, lr, s, b, label in trained if mm == m}
        assert {r[:3] for r in runs} == {(lr, "none", trial_budget) for lr in grid}, m
        assert len(runs) == len(grid) * 2, m  # both knob settings at every lr
        assert cmp.chosen[m].lr == 3e-3, m
        assert cmp.chosen[m].settings == cmp.tuning[m][0]["settings"]  # ties: its own setting
        assert [e["lr"] for e in cmp.tuning[m]] == list(grid) * 2  # the final grid's trials
    assert len({len(t) for t in cmp.tuning.values()}) == 1


def test_the_best_lrs_are_continued_to_the_full_budget_and_judged_there(
    eval_data, tmp_path, monkeypatch
):
    """A quarter-length trial may rank a high lr first that four times the steps undo: the best
    trial at each of the two best lrs trains the full budget (first seed, as the final run it
    then is) and the held-out score there chooses, for every method alike."""
    from vidrop.compare.core import Comparison
    from vidrop.compare.runs import MethodRun

    trained = []

    def fake_train(self, method, cfg, seed, budget, label, curve=False):
        trained.append((method, cfg.optim.base_lr, budget, curve, label))
        return MethodRun(str(tmp_path / f"{len(trained)}"), 2, 2)

    def fake_scores(self, run, label):  # trials: best at 3e-3; full budget: best at 1e-3
        lr = float(label.split(" lr ")[1].split()[0])
        best = 1e-3 if "finalist" in label else 3e-3
        return {"knn": 50.0 - 10 * abs(math.log10(lr / best)), "linear": 50.0}

    monkeypatch.setattr(Comparison, "train", fake_train)
    monkeypatch.setattr(Comparison, "heldout", fake_scores)
    lrs = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
    cmp = Comparison(spec(eval_data, tmp_path, budget=Budget("steps", 40), lrs=lrs))
    errors = cmp.tune_all()
    assert {m: t.lr for m, t in cmp.chosen.items()} == dict.fromkeys(cmp.spec.methods, 3e-3)
    cmp.settle_all(errors)
    assert errors == {}
    for m in cmp.spec.methods:
        final = [(lr, b, c) for mm, lr, b, c, label in trained if mm == m and "finalist" in label]
        # 3e-3 first, then the best of the other lrs: 1e-3 (45.2; 1e-2 scores 44.8)
        assert final == [(3e-3, Budget("steps", 40), True), (1e-3, Budget("steps", 40), True)]
        assert [e["lr"] for e in cmp.finalists[m]] == [3e-3, 1e-3]
        assert cmp.chosen[m].lr == 1e-3 and cmp.chosen[m].settings == cmp.tuning[m][0]["settings"]


def test_a_per_method_override_reaches_only_its_method(eval_data, tmp_path):
    from vidrop.compare.core import Comparison

    s = spec(eval_data, tmp_path, budget=Budget("steps", 4))
    s.overrides = [*TINY, "videomae:mask.drop_ratio=0.75", "dense:optim.min_lr=2e-6"]
    cmp = Comparison(s)
    assert [cmp.cfgs[m].mask.drop_ratio for m in s.methods] == [0.5, 0.0, 0.75]
    assert [cmp.cfgs[m].optim.min_lr for m in s.methods] == [1e-6, 2e-6, 1e-5]


@pytest.mark.parametrize("override", ["dense:optim.base_lr=3e-4", "optim.min_lr=1e-6"])
def test_tuning_refuses_an_override_it_would_replace(eval_data, tmp_path, override):
    """Every trial sets the peak and final lr itself: an override of either would be lost without
    a word, so it is refused while tuning runs, and kept with --no-tuning (lrs=())."""
    from vidrop.compare.core import Comparison

    s = spec(eval_data, tmp_path, budget=Budget("steps", 4), lrs=(1e-3,))
    s.overrides = [*TINY, override]
    with pytest.raises(ConfigError, match="--no-tuning"):
        Comparison(s)
    s.lrs = ()
    Comparison(s)  # untuned: the override stands


def test_every_method_plans_by_the_seconds_budget_the_reference_included(
    eval_data, tmp_path, monkeypatch
):
    """A seconds budget reaches every run as train.budget_seconds (the schedule follows the
    measured pace: tests/train/test_runner.py shows it spends >= 97%), the reference's too, also
    when the reference's recipe set the budget."""
    from vidrop.compare.budget import Calibration
    from vidrop.compare.core import Comparison
    from vidrop.compare.runs import MethodRun

    cal = Calibration(tuple(0.5 * (i + 1) for i in range(24)), flops_per_step=1e9)
    monkeypatch.setattr(Comparison, "calibrate", lambda self, method, cfg: cal)
    monkeypatch.setattr(Comparison, "flops_of", lambda self, cfg: 1e9)
    seen = {}

    def fake_run(cfg, folder, steps, label, data, flops):
        seen[label] = cfg.train
        return MethodRun(str(folder), steps, steps, seconds=33.0)

    monkeypatch.setattr("vidrop.compare.core.train_run", fake_run)
    for budget in (Budget("seconds", 30.0), None):
        seen.clear()
        cmp = Comparison(spec(eval_data, tmp_path, budget=budget, match="seconds"))
        for m in cmp.spec.methods:
            cmp.final_run(m, 0, {})
        finals = {k: t for k, t in seen.items() if "recipe" not in k}
        want = 30.0 if budget else 33.0  # the reference's recipe run took 33 s
        assert {k: t.budget_seconds for k, t in finals.items()} == {
            f"{m} seed 0": want for m in cmp.spec.methods
        }
        assert all(t.budget_seconds == 0 for k, t in seen.items() if "recipe" in k)


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
    assert set(report["methods"]["vidrop"]["eval"]["knn"]) == {"10", "20", "100"}
    assert "failed" in (tmp_path / "compare.md").read_text()


def test_a_setting_a_method_cannot_train_stops_before_any_work(eval_data, tmp_path):
    # transformers' VideoMAE has no key bias: refused when the comparison starts, not hours in
    s = spec(eval_data, tmp_path, budget=Budget("steps", 2), methods=("vidrop", "videomae"))
    s.overrides = [*TINY, "model.qkv_bias=qkv"]
    with pytest.raises(ConfigError, match="qkv_bias"):
        run_compare(s)
    assert not (tmp_path / "runs").exists()


def test_seconds_become_steps_from_the_measured_timings():
    cal = Calibration((1.0, 1.5, 2.0, 2.5, 3.0, 3.5), flops_per_step=2e12)
    assert cal.step_seconds == 0.5
    assert steps_for(Budget("seconds", 1.6), cal) == 2  # inside the calibration: counted
    assert steps_for(Budget("seconds", 5.0), cal) == 6 + 3  # beyond: 1.5 s more at 0.5 s a step
    assert steps_for(Budget("tflop", 9.0), cal) == 4
    assert steps_for(Budget("steps", 7), None) == 7
    with pytest.raises(ValueError):
        Budget("hours", 1)


def test_the_cli_needs_data_and_one_budget(tmp_path, capsys):
    assert main(["compare", "--out", str(tmp_path)]) == 2
    assert "--data TRAIN.csv and --val" in capsys.readouterr().err
    assert (
        main(["compare", "--synth", "--out", str(tmp_path), "--steps", "3", "--budget-s", "9"]) == 2
    )
    assert "one of --budget-s" in capsys.readouterr().err
