"""The VideoMAE peer's edges (its training and its equivalence with transformers are tested
through `vidrop compare` in tests/compare/test_core.py)."""

import sys

import pytest

from vidrop.config import ConfigError
from vidrop.methods import resolve_config
from vidrop.methods.videomae import hf_config, require_transformers


def test_without_transformers_the_videomae_method_says_which_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # as if it were not installed
    with pytest.raises(ConfigError, match=r"vidrop\[compare\]"):
        require_transformers()


def test_the_raw_pixel_target_is_a_videomae_override_that_reaches_transformers():
    pytest.importorskip("transformers")
    raw = resolve_config("tiny", ["videomae:decoder.norm_pix_loss=false"], method="videomae")
    assert hf_config(raw).norm_pix_loss is False
    assert hf_config(resolve_config("tiny", [], method="videomae")).norm_pix_loss is True
