"""`vidrop compare`: methods side by side on the same videos, the same encoder and the same
compute, each tuned alike (vidrop.compare.core says how). Importing this package loads no torch:
the command line reads its defaults from here."""

from typing import Any

from vidrop.compare.spec import DEFAULT_LRS, METHODS, Budget, CompareSpec

__all__ = ["DEFAULT_LRS", "METHODS", "Budget", "CompareSpec", "run_compare"]


def run_compare(spec: CompareSpec) -> dict[str, Any]:
    """Run (or resume) a comparison; returns compare.json's content."""
    from vidrop.compare.core import Comparison  # torch and the training stack, only now

    return Comparison(spec).run()
