import pytest

from vidrop.config import RECIPES, ConfigError, load_config, save_config


def test_every_packaged_recipe_loads():
    names = sorted(p.stem for p in RECIPES.glob("*.yaml"))
    assert {"tiny", "paper", "vit_s", "vit_b", "vit_l", "vit_h"} <= set(names)
    for name in names:
        load_config(name)
    cfg = load_config("vit_l")
    assert (
        cfg.model.arch == "vit_l" and cfg.mask.drop_ratio == 0.85 and cfg.head.prototypes == 16384
    )
    assert cfg.optim.min_lr == 1e-6  # YAML "1.0e-6" and "1e-6" both read as numbers


def test_overrides_and_types():
    cfg = load_config(
        "tiny", ["optim.base_lr=1e-3", "views.large_scale=[0.3, 1]", "train.compile=true"]
    )
    assert cfg.optim.base_lr == 1e-3 and cfg.views.large_scale == (0.3, 1.0) and cfg.train.compile
    with pytest.raises(ConfigError, match="optim.batch_size: expected an integer"):
        load_config("tiny", ["optim.batch_size=big"])
    with pytest.raises(ConfigError, match="views.large_scale: expected a list of 2"):
        load_config("tiny", ["views.large_scale=0.5"])
    with pytest.raises(ConfigError, match="unknown config section 'optm'.*'optim'"):
        load_config("tiny", ["optm.base_lr=1"])
    with pytest.raises(ConfigError, match="section.key=value"):
        load_config("tiny", ["base_lr"])


def test_value_checks_name_the_key():
    with pytest.raises(ConfigError, match="views.large_frames=15"):
        load_config("tiny", ["views.large_frames=15"])
    with pytest.raises(ConfigError, match="mask.drop_pattern='zigzag'"):
        load_config("tiny", ["mask.drop_pattern=zigzag"])
    with pytest.raises(ConfigError, match="train.attention='fa3'; choose one of auto, cudnn"):
        load_config("tiny", ["train.attention=fa3"])
    with pytest.raises(ConfigError, match="not found"):
        load_config("no_such_recipe")


def test_saved_config_reloads_identically(tmp_path):
    cfg = load_config("vit_b", ["optim.batch_size=8"])
    save_config(cfg, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == cfg


PAPER_MODELS = {  # recipe: (arch, continues a checkpoint, augmentation)
    "vit_l_videomae": ("vit_l", "VideoMAE ViT-L", "none"),
    "vit_l_videomae_aug": ("vit_l", "VideoMAE ViT-L", "dino"),
    "vit_l_vjepa": ("vit_l", "V-JEPA ViT-L", "none"),
    "vit_l_vjepa_aug": ("vit_l", "V-JEPA ViT-L", "dino"),
    "vit_h_videomae": ("vit_h", "VideoMAE ViT-H", "none"),
    "vit_b_videomae_sigma": ("vit_b", "VideoMAE ViT-B", "none"),
}


def test_every_packaged_recipe_loads_and_the_paper_models_say_what_they_continue():
    from vidrop.config import RECIPES

    for path in sorted(RECIPES.glob("*.yaml")):
        load_config(path.stem)
    for name, (arch, init, augment) in PAPER_MODELS.items():
        cfg = load_config(name)
        assert cfg.model.arch == arch and cfg.train.init_from.startswith(init), name
        assert cfg.views.augment == augment and cfg.optim.total_batch == 512, name
        assert cfg.optim.epochs == (60 if arch == "vit_b" else 40), name


def test_a_recipe_that_continues_a_checkpoint_refuses_to_start_without_one(synth_data, tmp_path):
    import pytest

    from tests.helpers import tiny_config
    from vidrop.config import ConfigError
    from vidrop.train.loop import Trainer

    cfg = tiny_config(synth_data["train"], "train.init_from=VideoMAE ViT-T")
    with pytest.raises(ConfigError, match=r"continues a checkpoint \(VideoMAE ViT-T\).*--init"):
        Trainer(cfg, tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_the_config_is_torch_free_and_its_names_match_the_model_tables():
    """`import vidrop.config` (and so `vidrop --help`) loads no model code; the names it
    accepts are exactly the keys of the tables that use them."""
    import subprocess
    import sys
    import typing

    code = (
        "import sys, vidrop.config, vidrop.data.dataset; "
        "print(sorted(m for m in sys.modules if m.startswith('vidrop.models')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    from vidrop import config
    from vidrop.models.layers import ATTENTION_BACKENDS
    from vidrop.tokens.drop import DROP_PATTERNS

    assert set(typing.get_args(config.Attention)) == set(ATTENTION_BACKENDS)
    assert set(typing.get_args(config.DropPattern)) == set(DROP_PATTERNS)
    assert set(typing.get_args(config.Arch)) == set(config.ARCHS)


def test_a_name_outside_its_choices_is_refused_with_them():
    import pytest

    from vidrop.config import ConfigError

    with pytest.raises(
        ConfigError,
        match=r"mask.drop_pattern='tubes' \(did you mean 'tube'\?\); "
        r"choose one of random, tube, block",
    ):
        load_config("tiny", ["mask.drop_pattern=tubes"])
    with pytest.raises(ConfigError, match="train.precision='fp16'.*auto, bf16, fp32"):
        load_config("tiny", ["train.precision=fp16"])


def test_validate_is_short_and_no_function_in_vidrop_is_long():
    """Each function of the package fits a screen (50 lines): small pieces with one job."""
    import ast
    from pathlib import Path

    long = []
    for path in Path(__file__).parents[1].joinpath("vidrop").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > 50:
                    long.append(f"{path.name}:{node.name} {lines}")
    assert long == []


def test_the_config_reference_is_what_the_script_writes_and_every_key_has_a_meaning():
    from pathlib import Path

    from vidrop.config_reference import markdown, reference

    assert [k for k, _, meaning in reference() if not meaning] == []
    page = Path(__file__).parents[1] / "docs" / "configuration.md"
    assert page.read_text() == markdown(), "run: python scripts/config_reference.py"
    assert "| `mask.drop_ratio` | `0.85` | share of a large clip's tokens" in page.read_text()
