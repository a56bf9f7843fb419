"""`vidrop bench step` times any method's step, each reporting its own token counts."""

import pytest

from vidrop.bench.step import bench_step

SMALL = [
    "views.small_clips=2",
    "head.prototypes=64",
    "head.patch_prototypes=64",
    "head.hidden_dim=64",
    "head.bottleneck_dim=32",
    "model.depth=1",
    "train.device=cpu",
]


@pytest.mark.parametrize(
    ("method", "tokens"),
    [
        ("vidrop", {"student_tokens", "masked_tokens", "teacher_tokens"}),
        ("videomae", {"encoder_tokens"}),
    ],
)
def test_bench_step_times_each_method_and_reports_its_tokens(method, tokens, tmp_path, capsys):
    pytest.importorskip("transformers")
    r = bench_step(
        "tiny",
        2,
        steps=2,
        warmup=1,
        json_out=str(tmp_path / "s.json"),
        overrides=[*SMALL, f"train.method={method}"],
    )
    assert len(r["step_s_all"]) == 2 and r["step_s_median"] > 0
    assert {k for k in r if k.endswith("_tokens")} == tokens
    # VideoMAE's encoder sees the kept tubes of each video's 2 large clips (90% masked)
    if method == "videomae":
        assert r["encoder_tokens"] == 2 * 2 * 4 * 2  # 2 videos x 2 clips x 4 tubelets x 2 kept
    assert f"{method} vit_t batch 2" in capsys.readouterr().out
    assert (tmp_path / "s.json").exists()
