import torch
import torch.nn.functional as F

import vidrop.eval.propagate as propagate_module
from vidrop.data.views import normalize
from vidrop.eval.propagate import (
    PropagationConfig,
    Sequence,
    evaluate_propagation,
    evaluate_sequence,
    first_labels,
    fit_to_patches,
    frame_features,
    predict_labels,
    propagate,
    rescale_labels,
    score_features,
)
from vidrop.models.vit import VideoViT, ViTConfig


def test_features_that_encode_the_object_propagate_it_exactly():
    """Cells of the object share one feature, background cells another: the first frame's labels
    carry over to every frame wherever the object moves (within the radius)."""
    t, h, w = 6, 8, 8
    labels = torch.zeros(t, h, w, dtype=torch.long)
    for i in range(t):
        labels[i, 2:4, i : i + 2] = 1  # a 2x2 object moving right one cell per frame
    feats = F.one_hot(labels, 2).float()  # (T, h, w, 2): unit vectors
    soft = propagate(feats, first_labels(labels[0], 2, h, w), PropagationConfig(topk=3))
    assert torch.equal(soft.argmax(1), labels)


def test_score_features_of_exact_features_is_perfect():
    """Features that are the true label of each 8x8-pixel cell, masks aligned to the cells: the
    prediction is the mask and J = F = 1 (the path that scores backbones and diagnostics alike).
    The object is a band two cells high moving down: bilinear upsampling would round a corner."""
    t, h, w = 5, 4, 4
    cells = torch.zeros(t, h, w, dtype=torch.long)
    for i in range(t):
        cells[i, i % 3 : i % 3 + 2] = 1
    masks = cells.repeat_interleave(8, 1).repeat_interleave(8, 2)  # (T, 32, 32)
    feats, cfg = F.one_hot(cells, 2).float(), PropagationConfig(topk=3)
    scores = score_features(feats, masks, cfg)
    assert torch.equal(predict_labels(feats, masks, cfg), masks)
    assert scores["j"] == [1.0] and scores["f"] == [1.0] and scores["jf"] == 1.0


def test_first_labels_take_each_cells_centre_pixel():
    """DINO resizes the first mask to the grid with nearest-neighbour sampling: hard labels, the
    label at the centre of each cell (pixel 4 + 8i for 8-pixel cells), not the area share."""
    mask = torch.zeros(16, 16, dtype=torch.long)
    mask[0:5, 0:5] = 1  # cell (0, 0): 25/64 of its area, but its centre pixel (4, 4)
    mask[8:16, 0:4] = 1  # cell (1, 0): half its area, not its centre pixel (12, 4)
    mask[10:16, 10:16] = 2  # cell (1, 1): its centre pixel (12, 12)
    labels = first_labels(mask, 3, 2, 2)
    assert labels.shape == (3, 2, 2) and torch.equal(labels.sum(0), torch.ones(2, 2))
    assert labels.argmax(0).tolist() == [[1, 0], [0, 2]]


def test_rescaled_labels_let_a_faded_label_win_where_it_is_strongest():
    """Votes for the object fade over the frames (0.4 at best): a plain argmax would call every
    pixel background; DINO's per-label min-max scaling keeps the object where it is strongest."""
    soft = torch.tensor([[[0.9, 0.6]], [[0.1, 0.4]]])  # (K=2, 1, 2): background, object
    assert soft.argmax(0).tolist() == [[0, 0]]
    assert rescale_labels(soft).argmax(0).tolist() == [[0, 1]]
    absent = torch.zeros(2, 1, 2)
    absent[0] = 1.0  # a label with no votes anywhere stays zero (no division by zero)
    assert torch.equal(rescale_labels(absent)[1], torch.zeros(1, 2))


def test_radius_limits_where_labels_come_from():
    t, h, w = 2, 1, 10
    labels = torch.zeros(t, h, w, dtype=torch.long)
    labels[0, 0, 0], labels[1, 0, 9] = 1, 1  # the object jumps 9 cells
    feats = F.one_hot(labels, 2).float()
    first = first_labels(labels[0], 2, h, w)
    far = propagate(feats, first, PropagationConfig(topk=1, radius=9)).argmax(1)
    near = propagate(feats, first, PropagationConfig(topk=1, radius=2)).argmax(1)
    assert far[1, 0, 9] == 1 and near[1, 0, 9] == 0


def test_frame_features_map_each_tubelet_to_its_frames_and_shifts_refine_the_grid():
    torch.manual_seed(0)
    model = VideoViT(ViTConfig(arch="vit_t", depth=1, num_frames=4, img_size=32)).eval()
    frames = torch.randint(0, 256, (6, 32, 48, 3), dtype=torch.uint8)  # 6 frames: 2 chunks of 4
    f = frame_features(model, frames)
    assert f.shape == (6, 2, 3, 192)
    torch.testing.assert_close(f.norm(dim=-1), torch.ones(6, 2, 3))
    assert torch.equal(f[0], f[1]) and not torch.equal(f[1], f[2])  # tubelet of 2 frames
    fine = frame_features(model, frames, shifts=2)
    assert fine.shape == (6, 4, 6, 192)
    # fine cell (2i+1, 2j+1): the tokens of the frames shifted by 4 pixels (token centres move
    # from 8 + 16i to 12 + 16i); in the 16-pixel padded frame that crop starts at 20
    pad = F.pad(frames.permute(0, 3, 1, 2).float(), (16, 16, 16, 16), mode="replicate")
    shifted = pad.byte().permute(0, 2, 3, 1)[:, 20 : 20 + 32, 20 : 20 + 48]
    direct = frame_features(model, shifted)
    torch.testing.assert_close(fine[:, 1::2, 1::2], direct, atol=1e-5, rtol=1e-5)


def test_per_frame_features_are_each_frame_alone_as_a_one_tubelet_clip():
    """--per-frame: every frame is its own clip of `tubelet` copies of itself, so its map sees
    no other frame (the paper's DAVIS protocol), unlike the clip mode's shared tubelets."""
    torch.manual_seed(0)
    model = VideoViT(ViTConfig(arch="vit_t", depth=1, num_frames=4, img_size=32)).eval()
    frames = torch.randint(0, 256, (5, 32, 48, 3), dtype=torch.uint8)
    per_frame = frame_features(model, frames, per_frame=True)
    assert per_frame.shape == (5, 2, 3, 192) and not torch.equal(per_frame[0], per_frame[1])
    for i in range(5):
        clip = frames[i : i + 1].expand(2, -1, -1, -1).permute(3, 0, 1, 2)[None]  # (1,3,2,H,W)
        with torch.no_grad():
            tokens = model.forward_features(normalize(clip))["patch"].reshape(2, 3, -1)
        torch.testing.assert_close(per_frame[i], F.normalize(tokens, dim=-1), atol=1e-5, rtol=1e-5)


def test_long_videos_go_through_the_backbone_a_few_clips_at_a_time(monkeypatch):
    """A token budget splits the clips into several forward passes; the features do not change."""
    torch.manual_seed(0)
    model = VideoViT(ViTConfig(arch="vit_t", depth=1, num_frames=2, img_size=32)).eval()
    frames = torch.randint(0, 256, (8, 32, 48, 3), dtype=torch.uint8)  # 4 clips of 6 tokens
    whole = frame_features(model, frames)
    batches = []
    real = model.forward_features
    monkeypatch.setattr(model, "forward_features", lambda x: batches.append(len(x)) or real(x))
    split = frame_features(model, frames, max_tokens=13)  # two clips per pass
    assert batches == [2, 2]
    torch.testing.assert_close(split, whole, atol=1e-5, rtol=1e-5)
    batches.clear()
    frame_features(model, frames, max_tokens=1)  # never less than one clip
    assert batches == [1, 1, 1, 1]


def test_fit_to_patches_resizes_instead_of_cropping():
    frames = torch.zeros(2, 24, 40, 3, dtype=torch.uint8)
    frames[:, :, -4:] = 255  # a bright right edge: a crop to 32 columns would drop it
    fitted = fit_to_patches(frames, 16)
    assert fitted.shape == (2, 16, 32, 3)
    assert fitted[:, :, -1].min() > 200 and fitted[:, :, 0].max() == 0
    assert fit_to_patches(frames[:, :8, :8], 16).shape == (2, 16, 16, 3)  # at least one patch
    assert torch.equal(fit_to_patches(frames[:, :16, :32], 16), frames[:, :16, :32])  # kept


def test_propagation_sees_the_whole_frame_the_masks_describe(monkeypatch):
    """Frames whose sides are not multiples of the patch (DAVIS: 854 px) reach the backbone
    resized, right edge included, and the labels are scored at the masks' full size."""
    torch.manual_seed(0)
    model = VideoViT(ViTConfig(arch="vit_t", depth=1, num_frames=2, img_size=32)).eval()
    frames = torch.zeros(4, 24, 40, 3, dtype=torch.uint8)
    frames[:, :, -4:] = 255
    masks = torch.zeros(4, 24, 40, dtype=torch.long)
    masks[:, 4:20, -8:] = 1  # the object is in the columns a crop would drop
    seen = []
    real = propagate_module.frame_features

    def spy(backbone, frames, *args, **kwargs):
        seen.append(frames)
        return real(backbone, frames, *args, **kwargs)

    monkeypatch.setattr(propagate_module, "frame_features", spy)
    r = evaluate_sequence(model, Sequence("edge", frames, masks), PropagationConfig())
    assert seen[0].shape == (4, 16, 32, 3) and seen[0][:, :, -1].min() > 200
    assert len(r["j"]) == 1 and 0 <= r["jf"] <= 1


def test_sequences_with_nothing_to_track_are_skipped_and_counted():
    torch.manual_seed(0)
    model = VideoViT(ViTConfig(arch="vit_t", depth=1, num_frames=2, img_size=32)).eval()
    frames = torch.randint(0, 256, (4, 32, 32, 3), dtype=torch.uint8)
    masks = torch.zeros(4, 32, 32, dtype=torch.long)
    good = masks.clone()
    good[:, 8:24, 8:24] = 1
    seqs = [Sequence("empty", frames, masks), Sequence("ok", frames, good)]
    r = evaluate_propagation(model, seqs, 2)
    assert r.skipped == ["empty"] and r.sequences == 1 and r.objects == 1
    assert r.jf_mean == (r.j_mean + r.f_mean) / 2
