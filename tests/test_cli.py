import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vidrop.cli import build_parser, main
from vidrop.eval.features import Features

SUBCOMMANDS = [
    [],
    ["demo"],
    ["data"],
    ["data", "synth"],
    ["data", "copies"],
    ["pretrain"],
    ["eval"],
    ["eval", "knn"],
    ["eval", "linear"],
    ["eval", "attentive"],
    ["eval", "lowshot"],
    ["eval", "propagate"],
    ["eval", "all"],
    ["eval", "copydetect"],
    ["extract"],
    ["viz", "pca"],
    ["data", "manifest"],
    ["bench"],
    ["bench", "step"],
    ["bench", "loader"],
    ["bench", "train"],
    ["export"],
    ["expand"],
    ["compress"],
    ["compress", "fit"],
    ["compress", "encode"],
    ["compress", "verify"],
    ["compress", "stats"],
]


@pytest.mark.parametrize("words", SUBCOMMANDS)
def test_every_subcommand_has_help(words, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([*words, "--help"])
    assert exc.value.code == 0
    assert "usage: vidrop" in capsys.readouterr().out


def test_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "vidrop", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "pretrain" in out.stdout


def test_user_errors_exit_2_with_one_clear_line(tmp_path, capsys):
    code = main(["pretrain", "--config", "tiny", "--out", str(tmp_path / "r"), "optim.bse_lr=1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "unknown config key optim.bse_lr" in err and "Traceback" not in err
    code = main(
        [
            "pretrain",
            "--config",
            "tiny",
            "--out",
            str(tmp_path / "r"),
            f"data.train={tmp_path / 'none.csv'}",
        ]
    )
    assert code == 2 and "none.csv does not exist" in capsys.readouterr().err


def test_print_config(capsys):
    assert main(["pretrain", "--config", "vit_s", "--out", "x", "--print-config"]) == 0
    assert "arch: vit_s" in capsys.readouterr().out


def test_pretrain_then_knn_from_the_command_line(synth_data, tmp_path, capsys):
    run = tmp_path / "run"
    args = [
        "pretrain",
        "--config",
        "tiny",
        "--out",
        str(run),
        f"data.train={synth_data['train']}",
        "data.num_workers=0",
        "optim.batch_size=4",
        "optim.epochs=1",
        "optim.warmup_epochs=0",
        "optim.warmup_teacher_temp_epochs=0",
        "head.prototypes=32",
        "head.patch_prototypes=32",
        "head.hidden_dim=64",
        "head.bottleneck_dim=16",
    ]
    assert main(args) == 0
    assert main(args) == 0  # again on the same folder: already trained, nothing breaks
    out = tmp_path / "knn.json"
    assert (
        main(
            [
                "eval",
                "knn",
                "--backbone",
                str(run / "export"),
                "--train",
                synth_data["train"],
                "--val",
                synth_data["val"],
                "--workers",
                "0",
                "--k",
                "5",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    result = json.loads(out.read_text())
    assert result["n_val"] == 12 and result["classes"] == 12
    # a known answer: the training videos as their own val set, k=1: each finds itself
    train = synth_data["train"]
    same = [
        "eval",
        "knn",
        "--backbone",
        str(run / "export"),
        "--train",
        train,
        "--val",
        train,
        "--workers",
        "0",
        "--k",
        "1",
        "--json",
        str(out),
    ]
    assert main(same) == 0 and json.loads(out.read_text())["knn"]["1"] == 100.0


def test_extract_once_then_probe_from_the_features_files(eval_data, tmp_path, capsys):
    backbone = _tiny_export(tmp_path)
    feats = {}
    for split in ("train", "val"):
        feats[split] = tmp_path / f"{split}.safetensors"
        args = ["extract", "--backbone", backbone, "--data", eval_data[split], "--clips", "2"]
        assert (
            main([*args, "--out-file", str(feats[split]), "--workers", "0", "--patch-tokens"]) == 0
        )
    files = ["--train-features", str(feats["train"]), "--val-features", str(feats["val"])]
    for cmd in (
        ["knn"],
        ["linear", "--epochs", "3"],
        ["attentive", "--epochs", "1", "--min-steps", "0"],
        ["lowshot", "--fractions", "0.5", "--seeds", "2"],
    ):
        out = tmp_path / f"{cmd[0]}.json"
        assert main(["eval", *cmd, *files, "--json", str(out)]) == 0
        assert "command" in json.loads(out.read_text())
    assert "linear top-1" in capsys.readouterr().out  # results on stdout


def test_eval_all_propagate_and_pca_from_the_command_line(eval_data, tmp_path, capsys):
    backbone = _tiny_export(tmp_path)
    data = ["--train", eval_data["train"], "--val", eval_data["val"], "--workers", "0"]
    out = tmp_path / "ev"
    assert (
        main(
            [
                "eval",
                "all",
                "--backbone",
                backbone,
                *data,
                "--out",
                str(out),
                "--synth",
                eval_data["val"],
                "--limit",
                "2",
                "--attentive-min-steps",
                "0",
            ]
        )
        == 0
    )
    report = json.loads((out / "eval.json").read_text())
    assert list(report["backbones"]) == ["run", "random init"]
    assert (
        main(
            [
                "eval",
                "propagate",
                "--backbone",
                backbone,
                "--synth",
                eval_data["val"],
                "--limit",
                "2",
                "--json",
                str(tmp_path / "p.json"),
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "p.json").read_text())["sequences"] <= 2
    video = manifest_paths(eval_data["val"])[0]
    assert (
        main(
            [
                "viz",
                "pca",
                "--backbone",
                backbone,
                "--video",
                video,
                "--out",
                str(tmp_path / "viz"),
                "--frames",
                "8",
            ]
        )
        == 0
    )
    assert (tmp_path / "viz" / "pca.png").is_file() and (tmp_path / "viz" / "pca.gif").is_file()
    assert (out / "eval.png").stat().st_size > 1000


def test_copy_detection_from_the_command_line(eval_data, tmp_path, capsys):
    backbone = _tiny_export(tmp_path)
    assert main(["data", "copies", "--data", eval_data["val"], "--out", str(tmp_path / "cd")]) == 0
    queries = str(tmp_path / "cd" / "queries.csv")
    args = [
        "eval",
        "copydetect",
        "--backbone",
        backbone,
        "--database",
        eval_data["val"],
        "--queries",
        queries,
        "--workers",
        "0",
    ]
    assert main([*args, "--whiten", eval_data["train"], "--json", str(tmp_path / "c.json")]) == 0
    result = json.loads((tmp_path / "c.json").read_text())
    assert result["queries"] == len(manifest_paths(eval_data["val"])) and result["whitened"]
    assert len(result["ranks"]) == result["queries"]
    # a known answer: unedited copies (the originals themselves) are all found first
    exact = tmp_path / "exact.csv"
    rows = [f"{p},{Path(p).name}\n" for p in manifest_paths(eval_data["val"])]
    exact.write_text("path,label\n" + "".join(rows))
    assert (
        main(
            [
                *args[:-4],
                "--queries",
                str(exact),
                "--workers",
                "0",
                "--json",
                str(tmp_path / "e.json"),
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "e.json").read_text())["map"] == 100.0
    (tmp_path / "q.csv").write_text("path,label\n" + f"{manifest_paths(queries)[0]},nope.mp4\n")
    assert main([*args[:-4], "--queries", str(tmp_path / "q.csv"), "--workers", "0"]) == 2
    assert "'nope.mp4' is not in the database" in capsys.readouterr().err


def test_copy_detection_of_a_vsc_split(eval_data, tmp_path):
    """The VSC layout end to end: references are the val videos; queries four of them unedited
    (a second segment of the same pair counts once) and two training videos as distractors.
    Unedited copies score a cosine of 1, above any distractor: mAP and µAP 100."""
    backbone, root = _tiny_export(tmp_path), tmp_path / "vsc"
    refs, extra = manifest_paths(eval_data["val"]), manifest_paths(eval_data["train"])[:2]
    for folder, videos in (("reference", refs), ("query", refs[:4] + extra)):
        (root / folder).mkdir(parents=True)
        for i, video in enumerate(videos):
            shutil.copy(video, root / folder / f"{folder[0].upper()}{i}.mp4")
    (root / "q.csv").write_text("video_id\n" + "".join(f"Q{i}\n" for i in range(6)))
    (root / "r.csv").write_text("video_id\n" + "".join(f"R{i}\n" for i in range(len(refs))))
    gt = ["Q0,R0,0,1", "Q0,R0,2,3", "Q1,R1,0,1", "Q2,R2,0,1", "Q3,R3,0,1"]
    (root / "gt.csv").write_text("query_id,ref_id,query_start,query_end\n" + "\n".join(gt))
    vsc = [str(root / f) for f in ("q.csv", "r.csv", "gt.csv")]
    assert (
        main(
            [
                "eval",
                "copydetect",
                "--backbone",
                backbone,
                "--vsc",
                *vsc,
                "--workers",
                "0",
                "--json",
                str(tmp_path / "v.json"),
            ]
        )
        == 0
    )
    r = json.loads((tmp_path / "v.json").read_text())
    assert (r["queries"], r["distractor_queries"], r["true_pairs"]) == (4, 2, 4)
    assert r["ranks"] == [0, 0, 0, 0] and r["map"] == r["uap"] == 100.0
    assert (
        main(["eval", "copydetect", "--backbone", backbone, "--vsc", *vsc, "--queries", vsc[0]])
        == 2
    )


def test_probes_on_images_as_pseudo_videos(tmp_path):
    """--images: class folders (train/, val/) of images, each shown as one clip of one tubelet.
    Two classes of flat colours with a little noise: any backbone tells them apart."""
    from PIL import Image

    backbone, rng = _tiny_export(tmp_path), np.random.default_rng(0)
    for split, n in (("train", 4), ("val", 2)):
        for cls, colour in (("red", (200, 30, 30)), ("blue", (30, 30, 200))):
            (tmp_path / "img" / split / cls).mkdir(parents=True)
            for i in range(n):
                x = np.clip(np.array(colour) + rng.normal(0, 5, (70, 90, 3)), 0, 255)
                Image.fromarray(x.astype(np.uint8)).save(
                    tmp_path / "img" / split / cls / f"{i}.png"
                )
    data = ["--train", str(tmp_path / "img" / "train"), "--val", str(tmp_path / "img" / "val")]
    assert (
        main(
            [
                "eval",
                "knn",
                "--backbone",
                backbone,
                "--images",
                *data,
                "--k",
                "1,3",
                "--workers",
                "0",
                "--json",
                str(tmp_path / "k.json"),
            ]
        )
        == 0
    )
    r = json.loads((tmp_path / "k.json").read_text())
    assert (r["n_train"], r["n_val"], r["classes"]) == (8, 4, 2)
    assert r["knn"] == {"1": 100.0, "3": 100.0}
    # the same through a CSV of image paths, the images' views recorded by extract
    rows = [f"{p},{p.parent.name}\n" for p in sorted((tmp_path / "img" / "val").rglob("*.png"))]
    (tmp_path / "val.csv").write_text("path,label\n" + "".join(rows))
    assert (
        main(
            [
                "extract",
                "--backbone",
                backbone,
                "--images",
                "--data",
                str(tmp_path / "val.csv"),
                "--out-file",
                str(tmp_path / "f.safetensors"),
                "--workers",
                "0",
            ]
        )
        == 0
    )
    views = Features.load(tmp_path / "f.safetensors").views
    assert (views.frames, views.clips, views.stride) == (2, 1, 1)  # one tubelet of the ViT-T


def test_eval_user_errors(eval_data, synth_data, tmp_path, capsys):
    backbone = _tiny_export(tmp_path)
    # the val split has classes the training split lacks
    code = main(
        [
            "eval",
            "linear",
            "--backbone",
            backbone,
            "--train",
            eval_data["train"],
            "--val",
            synth_data["val"],
            "--workers",
            "0",
        ]
    )
    assert code == 2 and "do not occur among the training videos" in capsys.readouterr().err
    assert main(["data", "manifest", "--format", "ucf101", "--out-file", str(tmp_path / "m")]) == 2
    assert "--format ucf101 needs --split-file --labels --root" in capsys.readouterr().err


def test_data_manifest_from_class_folders(eval_data, tmp_path):
    for i, video in enumerate(manifest_paths(eval_data["val"])[:2]):
        (tmp_path / "v" / f"class{i}").mkdir(parents=True)
        (tmp_path / "v" / f"class{i}" / "a.mp4").write_bytes(Path(video).read_bytes())
    out = tmp_path / "m.csv"
    assert (
        main(
            [
                "data",
                "manifest",
                "--format",
                "folders",
                "--root",
                str(tmp_path / "v"),
                "--out-file",
                str(out),
            ]
        )
        == 0
    )
    assert out.read_text().count("\n") == 3


def manifest_paths(csv: str) -> list[str]:
    from vidrop.data.manifest import read_manifest

    return read_manifest(csv).paths


def _tiny_export(tmp_path) -> str:
    """A vidrop export of a small random backbone (no training needed to test wiring)."""
    from vidrop.models.export import save_backbone
    from vidrop.models.vit import VideoViT, ViTConfig

    torch.manual_seed(0)
    model = VideoViT(ViTConfig(arch="vit_t", depth=1, num_frames=4, img_size=64))
    extra = {"eval": {"frames": 4, "size": 64, "stride": 2, "short_side": 0}}
    return str(save_backbone(tmp_path / "run" / "export", model, extra))  # .../backbone.json


def test_compress_commands_end_to_end(synth_data, code_store, tmp_path, capsys):
    cb = tmp_path / "cb"
    args = ["--clusters", "16", "--patch", "8", "--short-side", "0", "--samples", "500"]
    assert (
        main(["compress", "fit", "--data", synth_data["train"], "--out-file", str(cb), *args]) == 0
    )
    store = tmp_path / "store"
    enc = ["--data", synth_data["train"], "--codebook", str(cb), "--out", str(store)]
    assert main(["compress", "encode", *enc, "--workers", "0"]) == 0
    assert main(["compress", "verify", str(store)]) == 0
    assert main(["compress", "stats", str(store), "--json", str(tmp_path / "s.json")]) == 0
    out = " ".join(capsys.readouterr().out.split())  # results on stdout
    assert "checksums ok" in out and "96.0x vs raw" in out
    assert json.loads((tmp_path / "s.json").read_text())["k"] == 16


def test_compress_user_errors(tmp_path, capsys):
    assert main(["compress", "verify", str(tmp_path)]) == 2
    assert "not a code store" in capsys.readouterr().err
    code = main(
        [
            "compress",
            "encode",
            "--data",
            str(tmp_path / "none.csv"),
            "--codebook",
            "x",
            "--out",
            str(tmp_path / "s"),
        ]
    )
    assert code == 2 and "none.csv" in capsys.readouterr().err


def test_export_from_a_training_checkpoint(synth_data, tmp_path, capsys):
    run = tmp_path / "run"
    args = [
        "pretrain",
        "--config",
        "tiny",
        "--out",
        str(run),
        f"data.train={synth_data['train']}",
        "data.num_workers=0",
        "optim.batch_size=4",
        "train.max_steps=1",
        "model.qkv_bias=qv",
        "head.prototypes=32",
        "head.patch_prototypes=32",
        "head.hidden_dim=64",
        "head.bottleneck_dim=16",
    ]
    assert main(args) == 0
    ckpt = str(run / "checkpoint.pt")
    assert main(["export", "--checkpoint", ckpt, "--out", str(tmp_path / "v")]) == 0
    from vidrop.models.load import load_backbone

    exported, meta = load_backbone(tmp_path / "v", with_meta=True)
    teacher, _ = load_backbone(ckpt, with_meta=True)
    x = torch.randn(1, 3, 8, 64, 64)
    torch.testing.assert_close(exported(x), teacher(x))
    part = ["export", "--checkpoint", ckpt, "--out", str(tmp_path / "s"), "--part", "student"]
    assert main(part) == 0
    student = load_backbone(tmp_path / "s")
    torch.testing.assert_close(student(x), load_backbone(ckpt, part="student")(x))
    assert not torch.allclose(student(x)["patch"], teacher(x)["patch"])  # the EMA lags a step
    hf = ["export", "--checkpoint", ckpt, "--out", str(tmp_path / "h"), "--format", "hf-videomae"]
    assert main(hf) == 2
    assert "CLS token" in capsys.readouterr().err
    assert not list((tmp_path / "h").iterdir())  # refused before anything was written
    assert meta["eval"] == {"frames": 8, "size": 64, "stride": 2, "short_side": 0}


def test_a_full_disk_in_pretraining_is_one_clear_line(synth_data, tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    args = [
        "pretrain",
        "--config",
        "tiny",
        "--out",
        str(run),
        f"data.train={synth_data['train']}",
        "data.num_workers=0",
        "optim.batch_size=4",
        "train.max_steps=1",
        "head.prototypes=32",
        "head.patch_prototypes=32",
        "head.hidden_dim=64",
        "head.bottleneck_dim=16",
    ]

    def full_disk(obj, f):
        f.write(b"partial")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 768 vs 662")

    monkeypatch.setattr("vidrop.train.checkpoint.torch.save", full_disk)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "checkpoint.pt: could not be written" in err and "GiB free" in err
    assert "run the same command again" in err and "Traceback" not in err
    assert not (run / "checkpoint.pt.tmp").exists()
    monkeypatch.undo()
    assert main(args) == 0 and (run / "checkpoint.pt").is_file()


def test_pretrain_init_from_a_hf_videomae_folder(synth_data, tmp_path):
    transformers = pytest.importorskip("transformers")
    hf_cfg = transformers.VideoMAEConfig(
        image_size=64,
        patch_size=16,
        num_frames=8,
        tubelet_size=2,
        hidden_size=192,
        num_hidden_layers=4,
        num_attention_heads=3,
        intermediate_size=768,
        use_mean_pooling=False,
    )
    torch.manual_seed(0)
    transformers.VideoMAEModel(hf_cfg).save_pretrained(tmp_path / "hf")
    run = tmp_path / "run"
    args = [
        "pretrain",
        "--config",
        "tiny",
        "--out",
        str(run),
        "--init",
        str(tmp_path / "hf"),
        f"data.train={synth_data['train']}",
        "data.num_workers=0",
        "optim.batch_size=4",
        "train.max_steps=1",
        "model.qkv_bias=qv",
        "head.prototypes=32",
        "head.patch_prototypes=32",
        "head.hidden_dim=64",
        "head.bottleneck_dim=16",
    ]
    assert main(args) == 0
    from vidrop.models.load import load_backbone

    src, _ = load_backbone(tmp_path / "hf", with_meta=True)
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    w = ckpt["model"]["teacher.backbone.blocks.3.mlp.fc2.weight"]
    # one step with EMA momentum ~0.99 moves the teacher only a little from the loaded weights
    ref = src.state_dict()["blocks.3.mlp.fc2.weight"]
    assert (w - ref).abs().max() < 0.01 * ref.abs().max()
    assert "init: " in (run / "config.yaml").read_text()
