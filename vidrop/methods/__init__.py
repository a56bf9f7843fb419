"""What a method is (`Method`), the registry of methods by name, and the built-in ones: ViDROP,
the dense student and VideoMAE (docs/design.md shows how to add your own)."""

from vidrop.methods.base import Feature, LossTerms, Method, ParamGroup, param_group
from vidrop.methods.dense import DenseMethod
from vidrop.methods.registry import get_method, method_names, register_method
from vidrop.methods.resolve import resolve_config
from vidrop.methods.videomae import VideoMAEMethod
from vidrop.methods.vidrop import ViDROPMethod

__all__ = [
    "DenseMethod",
    "Feature",
    "LossTerms",
    "Method",
    "ParamGroup",
    "VideoMAEMethod",
    "ViDROPMethod",
    "get_method",
    "method_names",
    "param_group",
    "register_method",
    "resolve_config",
]
