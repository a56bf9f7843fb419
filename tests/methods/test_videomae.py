"""The VideoMAE peer's edges (its training and its equivalence with transformers are tested
through `vidrop compare` in tests/compare/test_core.py)."""

import sys

import pytest

from vidrop.config import ConfigError
from vidrop.methods.videomae import require_transformers


def test_without_transformers_the_videomae_method_says_which_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # as if it were not installed
    with pytest.raises(ConfigError, match=r"vidrop\[compare\]"):
        require_transformers()
