import json
import subprocess
import sys

import pytest

from vidrop.cli import build_parser, main

SUBCOMMANDS = [
    [],
    ["demo"],
    ["data"],
    ["data", "synth"],
    ["pretrain"],
    ["eval"],
    ["eval", "knn"],
    ["bench"],
    ["bench", "step"],
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
    assert 0.0 <= result["top1"] <= 100.0 and result["n_val"] == 12 and result["n_classes"] == 12
