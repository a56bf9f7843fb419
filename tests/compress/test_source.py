"""Store and video sources give the same views for the same draws; only the pixels differ."""

import numpy as np
import torch

from vidrop.compress.device_decode import DeviceDecoder
from vidrop.compress.source import StoreSource
from vidrop.config import ViewsConfig
from vidrop.data.dataset import ViewDataset, collate_views
from vidrop.data.source import PendingView, PixelBlock, VideoSource
from vidrop.data.views import CropBox, is_channels_last, views_buffer

VIEWS = ViewsConfig(
    large_clips=2,
    large_frames=8,
    large_size=32,
    small_clips=3,
    small_frames=4,
    small_size=16,
    frame_stride=2,
    large_scale=(0.2, 1.0),
    small_scale=(0.05, 0.3),
)


def test_code_block_views_equal_views_of_the_fully_decoded_video(code_store):
    source = StoreSource(str(code_store))
    block = source.load(2, np.arange(4))
    full = source.store.codebook.decode(torch.from_numpy(source.store.codes(2).astype(np.int64)))
    pixels = PixelBlock(full, {i: i for i in range(full.shape[0])})
    frames = np.array([0, 3, 3, 9])
    for box in [CropBox(0, 0, 64, 64), CropBox(3, 5, 17, 40), CropBox(9, 1, 55, 21)]:
        for flip in (False, True):
            a = block.view(frames, box, 24, flip)
            b = pixels.view(frames, box, 24, flip)
            assert a.shape == (3, 4, 24, 24) and torch.equal(a, b)


def test_channels_last_slots_hold_the_same_views(code_store):
    """The loaders' slots are stored (T, H, W, 3); filling one gives the plain view's values."""
    source = StoreSource(str(code_store))
    full = source.store.codebook.decode(torch.from_numpy(source.store.codes(1).astype(np.int64)))
    blocks = [source.load(1, np.arange(4)), PixelBlock(full, {i: i for i in range(len(full))})]
    for block in blocks:
        for flip in (False, True):
            slot = views_buffer(1, 3, 24)[0]
            assert is_channels_last(slot)
            out = block.view(np.array([0, 2, 5]), CropBox(4, 6, 30, 41), 24, flip, slot)
            assert out is slot
            assert torch.equal(
                slot, block.view(np.array([0, 2, 5]), CropBox(4, 6, 30, 41), 24, flip)
            )


def test_store_and_video_sources_give_same_shapes_and_deterministic_views(code_store):
    store = StoreSource(str(code_store))
    video = VideoSource([v.path for v in store.store.videos])
    a = ViewDataset(store, VIEWS, seed=0)[(5, 1)]
    b = ViewDataset(video, VIEWS, seed=0)[(5, 1)]
    for key in ("large", "small"):
        assert a[key].shape == b[key].shape and a[key].dtype == b[key].dtype == torch.uint8
        # lossy codes: close to the source pixels, not equal
        diff = (a[key].float() - b[key].float()).abs().mean()
        assert 0 < diff < 40
    assert torch.equal(a["large"], ViewDataset(store, VIEWS, seed=0)[(5, 1)]["large"])


def test_device_decoding_gives_the_worker_decoded_batch(code_store):
    on_worker = ViewDataset(StoreSource(str(code_store)), VIEWS, seed=0)
    pending = ViewDataset(StoreSource(str(code_store), decode_on_device=True), VIEWS, seed=0)
    keys = [(1, 0), (7, 0), (4, 2)]
    want = collate_views([on_worker[k] for k in keys])
    batch = collate_views([pending[k] for k in keys])
    assert batch.codes and isinstance(batch.large[0][0], PendingView)
    decoder = DeviceDecoder(StoreSource(str(code_store)).table, torch.device("cpu"), VIEWS)
    got = decoder(batch)
    assert torch.equal(got.large, want.large) and torch.equal(got.small, want.small)
    assert not got.codes and got.index.tolist() == [1, 7, 4]
    assert decoder(want) is want  # pixel batches pass through
