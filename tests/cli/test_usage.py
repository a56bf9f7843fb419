"""The command line as a new user meets it: help everywhere, errors that say what to do in one
line (exit 2) before any work, results on stdout, files others can read."""

import argparse
import os
import stat

import pytest

from vidrop.cli import build_parser, main


def every_parser(parser: argparse.ArgumentParser, name: str = "vidrop"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from every_parser(sub, f"{name} {sub_name}")


def test_every_flag_explains_itself_and_shows_its_default():
    missing = []
    for name, parser in every_parser(build_parser()):
        for action in parser._actions:
            if action.option_strings and action.help in (None, ""):
                missing.append(f"{name} {action.option_strings[0]}")
        assert issubclass(parser.formatter_class, argparse.ArgumentDefaultsHelpFormatter), name
    assert missing == []
    knn = dict(every_parser(build_parser()))["vidrop eval knn"].format_help()
    assert "(default: 0.07)" in " ".join(knn.split())  # the flag's default, in its help


def test_one_name_per_idea_across_commands():
    """--batch-size (never --batch), --temperature (never --temp), --out a folder and
    --out-file a file."""
    flags = {
        f for _, p in every_parser(build_parser()) for a in p._actions for f in a.option_strings
    }
    assert not flags & {"--batch", "--temp", "--out-dir", "--output"}


def test_no_arguments_prints_the_help_and_version_prints_it(capsys):
    assert main([]) == 0
    assert "pretrain" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and "vidrop 0." in capsys.readouterr().out


@pytest.mark.parametrize("out", ["/dev/null/x", "/proc/vidrop-x"])
def test_an_impossible_out_is_refused_before_any_work(out, capsys):
    assert main(["data", "synth", "--out", out, "--videos", "24"]) == 2
    err = capsys.readouterr().err
    assert f"--out {out}: cannot write there" in err and "Traceback" not in err


def test_bad_values_are_usage_errors(capsys):
    for argv, said in (
        (["expand", "--checkpoint", "c", "--to", "vit_q", "--out", "o"], "invalid choice: 'vit_q'"),
        (["eval", "knn", "--k", "5,abc"], "expected integers separated by commas"),
        (
            ["pretrain", "--config", "tiny", "--out", "o", "--data", "x.csv"],
            "set it as an override: data.train=PATH",
        ),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2 and said in capsys.readouterr().err


def test_input_errors_name_the_file_and_what_to_do(tmp_path, capsys):
    bad = tmp_path / "f.safetensors"
    bad.write_text("not safetensors")
    assert main(["eval", "knn", "--train-features", str(bad), "--val-features", str(bad)]) == 2
    assert "is not a features file (not safetensors" in capsys.readouterr().err
    csv = tmp_path / "videos.csv"
    csv.write_text("video,label\na.mp4,walk\n")
    assert (
        main(["pretrain", "--config", "tiny", "--out", str(tmp_path / "r"), f"data.train={csv}"])
        == 2
    )
    assert "without a 'path' column" in capsys.readouterr().err
    assert main(["compress", "stats", str(tmp_path / "missing")]) == 2
    assert "missing does not exist" in capsys.readouterr().err


def test_print_config_needs_no_out_and_says_what_each_key_means(capsys):
    assert main(["pretrain", "--config", "vit_b", "--print-config"]) == 0
    out = capsys.readouterr().out
    assert "drop_ratio: 0.85" in out and "share of a large clip's tokens" in out
    assert "total batch 512 = 1 process(es) x 8 accumulation x 64 videos" in out


def test_overrides_stand_anywhere_among_the_options(capsys, monkeypatch):
    """The issue's own line, and an override right after an option whose value may be left out
    (`--synth`): each is an override, in the order typed."""
    argv = ["pretrain", "optim.batch_size=4", "--config", "tiny", "model.depth=3"]
    assert main([*argv, "--print-config", "optim.epochs=7"]) == 0
    out = capsys.readouterr().out
    assert all(s in out for s in ("batch_size: 4", "depth: 3", "epochs: 7"))

    import vidrop.cli.compare as compare_cli

    seen = []
    monkeypatch.setattr(compare_cli, "cmd_compare", seen.append)
    main(["compare", "--synth", "data.num_workers=0", "--out", "x", "optim.batch_size=4"])
    assert (seen[0].synth, seen[0].overrides) == (
        "shapes",
        ["data.num_workers=0", "optim.batch_size=4"],
    )
    for argv, synth in (
        (["--synth", "glyphs", "--out", "x"], "glyphs"),
        (["--synth=glyphs", "--out", "x"], "glyphs"),
        (["--out", "x", "--synth"], "shapes"),  # the last token: the family left out
        (["--out", "x"], None),
    ):
        main(["compare", *argv])
        assert (seen[-1].synth, seen[-1].overrides) == (synth, []), argv
    for wrong in ("--synth=stripes", "--synth=data.num_workers=0"):
        with pytest.raises(SystemExit):
            main(["compare", wrong, "--out", "x"])
    assert "apart from the option" in capsys.readouterr().err


def test_exports_are_readable_by_others(tmp_path):
    import torch

    from vidrop.models.export import save_backbone
    from vidrop.models.vit import VideoViT, ViTConfig

    torch.manual_seed(0)
    save_backbone(tmp_path, VideoViT(ViTConfig(arch="vit_t", depth=1, num_frames=4, img_size=32)))
    umask = os.umask(0)
    os.umask(umask)
    for name in ("backbone.safetensors", "backbone.json"):
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == 0o666 & ~umask, (name, oct(mode))  # safetensors alone writes 0600
