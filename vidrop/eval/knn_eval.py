"""The kNN protocol end to end: manifests -> frozen features -> weighted kNN top-1."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from vidrop.data.manifest import Manifest, ManifestError, read_manifest
from vidrop.eval.features import ClipSpec, extract_features
from vidrop.eval.knn import knn_accuracy
from vidrop.models.vit import VideoViT

log = logging.getLogger("vidrop")


@dataclass
class KnnResult:
    top1: float
    k: int
    temp: float
    feature: str
    n_train: int
    n_val: int
    n_classes: int
    skipped: list[str]


def labelled(manifest: Manifest) -> Manifest:
    if any(e.label is None for e in manifest.entries):
        raise ManifestError(f"{manifest.source}: kNN needs a label for every video")
    return manifest


def knn_eval(
    backbone: VideoViT,
    train_csv: str,
    val_csv: str,
    spec: ClipSpec,
    k: int = 20,
    temp: float = 0.07,
    feature: str = "cls",
    device: str = "cpu",
    batch_size: int = 32,
    num_workers: int = 1,
    name: str = "",
) -> KnnResult:
    train, val = labelled(read_manifest(train_csv)), labelled(read_manifest(val_csv))
    classes = train.class_names
    y_train = torch.tensor(train.label_ids(classes))
    y_val = torch.tensor(val.label_ids(classes))  # a val-only label is an error naming it
    kwargs = {"feature": feature, "batch_size": batch_size, "num_workers": num_workers}
    f_train, ok_train = extract_features(
        backbone, train.paths, spec, device=device, description=f"{name} train".strip(), **kwargs
    )
    f_val, ok_val = extract_features(
        backbone, val.paths, spec, device=device, description=f"{name} val".strip(), **kwargs
    )
    skipped = [
        p
        for p, ok in zip(train.paths + val.paths, list(ok_train) + list(ok_val), strict=True)
        if not ok
    ]
    for path in skipped:
        log.warning("kNN skipped unreadable video %s", path)
    ok_t, ok_v = torch.from_numpy(ok_train), torch.from_numpy(ok_val)
    top1 = knn_accuracy(f_train[ok_t], y_train[ok_t], f_val[ok_v], y_val[ok_v], k, temp)
    return KnnResult(
        top1, k, temp, feature, int(ok_t.sum()), int(ok_v.sum()), len(classes), skipped
    )
