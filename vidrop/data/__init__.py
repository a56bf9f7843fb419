"""Manifests, video decoding, clip sampling, ViDROP views, the synthetic default dataset."""
