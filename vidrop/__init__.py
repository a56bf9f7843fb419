"""vidrop: self-supervised video Vision Transformers with the ViDROP method."""

__version__ = "0.1.0"
