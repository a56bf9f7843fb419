"""Frozen-backbone evaluation: feature extraction and weighted kNN (the full suite builds on it)."""
