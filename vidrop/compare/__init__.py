"""`vidrop compare`: ViDROP against the dense student and VideoMAE on the same videos, the same
encoder and the same compute (vidrop.compare.core says how)."""

from vidrop.compare.budget import Budget
from vidrop.compare.core import METHODS, CompareSpec, Comparison

__all__ = ["METHODS", "Budget", "CompareSpec", "Comparison", "run_compare"]


def run_compare(spec: CompareSpec) -> dict:
    """Run (or resume) a comparison; returns compare.json's content."""
    return Comparison(spec).run()
