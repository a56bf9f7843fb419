"""The eval commands' flags default to the probes' settings: running a command without a flag runs
the probe as its settings say, and a flag given reaches the probe."""

from dataclasses import replace

from vidrop.cli import build_parser
from vidrop.cli.eval import propagation_config, suite_config
from vidrop.eval.settings import AttentiveConfig, LinearConfig, PropagationConfig, SuiteConfig


def _parse(*words: str):
    return build_parser().parse_args(list(words))


def test_eval_all_without_flags_runs_the_default_suite():
    args = _parse(
        "eval", "all", "--backbone", "b", "--train", "t.csv", "--val", "v.csv", "--out", "o"
    )
    assert suite_config(args) == SuiteConfig()


def test_eval_all_flags_reach_the_suite():
    args = _parse(
        "eval",
        "all",
        "--backbone",
        "b",
        "--train",
        "t.csv",
        "--val",
        "v.csv",
        "--out",
        "o",
        "--attentive-min-steps",
        "7",
        "--max-token-gib",
        "2",
        "--synth",
        "v.csv",
        "--limit",
        "3",
        "--shifts",
        "2",
        "--copies",
        "c.csv",
        "--feature",
        "mean",
    )
    expected = SuiteConfig(
        attentive=AttentiveConfig(min_steps=7),
        max_token_gib=2.0,
        propagate="v.csv",
        propagate_limit=3,
        propagation=PropagationConfig(shifts=2),
        copies="c.csv",
    )
    assert suite_config(args) == expected
    no_attentive = _parse(
        "eval",
        "all",
        "--backbone",
        "b",
        "--train",
        "t",
        "--val",
        "v",
        "--out",
        "o",
        "--no-attentive",
        "--davis",
        "/d",
    )
    assert suite_config(no_attentive) == SuiteConfig(attentive=None, propagate="davis:/d")


def test_propagate_flags():
    assert propagation_config(_parse("eval", "propagate", "--backbone", "b")) == PropagationConfig()
    args = _parse(
        "eval",
        "propagate",
        "--backbone",
        "b",
        "--topk",
        "3",
        "--context",
        "2",
        "--radius",
        "4",
        "--temperature",
        "0.5",
        "--short-side",
        "96",
        "--shifts",
        "2",
        "--per-frame",
    )
    assert propagation_config(args) == PropagationConfig(96, 2, 3, 2, 4, 0.5, per_frame=True)


def test_probe_flags_default_to_the_settings():
    suite = SuiteConfig()
    knn = _parse("eval", "knn")
    assert knn.k == suite.ks and knn.temperature == suite.temp
    assert replace(LinearConfig(), epochs=_parse("eval", "linear").epochs) == LinearConfig()
    att = _parse("eval", "attentive")
    assert AttentiveConfig(epochs=att.epochs, min_steps=att.min_steps) == AttentiveConfig()
    low = _parse("eval", "lowshot")
    assert low.fractions == suite.lowshot_fractions
    assert tuple(range(low.seeds)) == suite.lowshot_seeds
    cd = _parse("eval", "copydetect", "--backbone", "b", "--database", "d", "--queries", "q")
    assert cd.topk == suite.copy_topk


def test_eval_all_never_merges_two_backbones_and_scores_each_against_its_own_floor(
    eval_data, tmp_path, caplog
):
    """Three traps a peer comparison must not fall into: names cut at the first dot (two HF
    folders videomae_r0.9 and videomae_r0.75 became one), the stride of a backbone that records
    none, and a CLS-less (mean-pooled) backbone scored against a CLS-read random init."""
    import json

    import pytest

    transformers = pytest.importorskip("transformers")
    from vidrop.cli import main
    from vidrop.eval.backbones import named_backbones
    from vidrop.eval.errors import EvalError

    hf = transformers.VideoMAEConfig(
        image_size=64,
        patch_size=16,
        num_frames=4,
        tubelet_size=2,
        hidden_size=48,
        num_hidden_layers=1,
        num_attention_heads=3,
        intermediate_size=96,
        use_mean_pooling=False,
    )
    for name in ("videomae_r0.9", "videomae_r0.75"):
        transformers.VideoMAEModel(hf).save_pretrained(tmp_path / name)
    (tmp_path / "videomae_r0.75" / "config.json").write_text(
        json.dumps(
            {
                **json.loads((tmp_path / "videomae_r0.75" / "config.json").read_text()),
                "vidrop_eval": {"frames": 4, "size": 64, "stride": 3},
            }
        )
    )
    from vidrop.models.export import save_backbone
    from vidrop.models.vit import VideoViT, ViTConfig

    ours = VideoViT(ViTConfig(arch="vit_t", depth=1, num_frames=4, img_size=64))
    save_backbone(
        tmp_path / "ours" / "export", ours, {"eval": {"frames": 4, "size": 64, "stride": 2}}
    )
    paths = [str(tmp_path / n) for n in ("videomae_r0.9", "videomae_r0.75")]
    assert list(named_backbones(paths)) == ["videomae_r0.9", "videomae_r0.75"]
    with pytest.raises(EvalError, match="two backbones are named 'x'"):
        named_backbones([f"x={paths[0]}", f"x={paths[1]}"])
    out = tmp_path / "ev"
    args = [
        "eval",
        "all",
        "--backbone",
        str(tmp_path / "ours" / "export"),
        *paths,
        "--train",
        eval_data["train"],
        "--val",
        eval_data["val"],
        "--out",
        str(out),
        "--workers",
        "0",
        "--no-attentive",
    ]
    assert main(args) == 0
    report = json.loads((out / "eval.json").read_text())
    b = report["backbones"]
    assert list(b) == [
        "ours",
        "videomae_r0.9",
        "videomae_r0.75",
        "random init (cls)",
        "random init (mean)",
    ]
    assert [b[n]["feature"] for n in b] == ["cls", "mean", "mean", "cls", "mean"]
    assert [b[n]["views"]["stride"] for n in list(b)[:3]] == [
        2,
        4,
        3,
    ]  # recorded, assumed, recorded
    assert "videomae_r0.9 records no training views: assuming frame stride 4" in caplog.text
    assert "videomae_r0.75 records no" not in caplog.text
    assert report["floors"] == {
        "ours": "random init (cls)",
        "videomae_r0.9": "random init (mean)",
        "videomae_r0.75": "random init (mean)",
    }
