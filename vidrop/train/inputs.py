"""What a run trains from: video files listed in data.train, or a code store in data.store.

Both give the same batches; with a store on a GPU (data.decode_on=auto or device) the workers
hand over codes and `DeviceDecoder` turns them into pixels on the device.
"""

from __future__ import annotations

import logging

import torch

from vidrop.compress.device_decode import DeviceDecoder
from vidrop.compress.source import StoreSource
from vidrop.compress.store import CodeStore, StoreError
from vidrop.config import Config, ConfigError
from vidrop.data.manifest import read_manifest
from vidrop.data.source import ClipSource, VideoSource
from vidrop.train.stream import Decoder, identity

log = logging.getLogger(__name__)


def count_training_videos(cfg: Config) -> int | None:
    """How many videos the run would train on, without opening them (None: no data given)."""
    if cfg.data.store:
        return len(CodeStore(cfg.data.store))
    if cfg.data.train:
        return len(read_manifest(cfg.data.train, cfg.data.root or None, check=False))
    return None


def build_source(cfg: Config, device: torch.device) -> tuple[ClipSource, Decoder, dict[str, str]]:
    """(source, batch decoder, videos the source already knows it cannot give: path -> reason).

    Fails before any work: a missing manifest entry or an unfinished store is one clear error."""
    d = cfg.data
    if d.store:
        on_device = d.decode_on == "device" or (d.decode_on == "auto" and device.type == "cuda")
        try:
            source = StoreSource(d.store, decode_on_device=on_device, verify=d.verify_store)
        except StoreError as exc:
            raise ConfigError(f"data.store: {exc}") from exc
        if d.train:
            log.info("training from the code store %s (data.train is not read)", d.store)
        failed = {v.path: v.error for v in source.store.failed}
        decoder = DeviceDecoder(source.table, device, cfg.views) if on_device else identity
        return source, decoder, failed
    if not d.train:
        raise ConfigError(
            "no training data: give a manifest (data.train=videos.csv) or a code store "
            "(data.store=STORE)"
        )
    manifest = read_manifest(d.train, d.root or None)
    return VideoSource(manifest.paths, d.short_side, d.cache_mb), identity, {}
