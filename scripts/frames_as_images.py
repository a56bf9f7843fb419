"""Write one frame of every video of a manifest as a PNG into class folders (OUT/LABEL/NAME.png),
the image set `vidrop eval ... --images` reads: how docs/evaluation.md's images row was made
from the demo's synthetic videos. The frame taken is the middle one; undecodable videos are
skipped and counted.

python scripts/frames_as_images.py vidrop-demo/data/train.csv images/train
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

from vidrop.data.manifest import read_manifest
from vidrop.data.video import VideoError, probe, read_frames


def main(manifest: str, out: str) -> None:
    skipped = 0
    for entry in read_manifest(manifest).entries:
        try:
            frame = read_frames(entry.path, [probe(entry.path).frames // 2])[0]
        except VideoError:
            skipped += 1
            continue
        folder = Path(out) / (entry.label or "unlabelled")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(frame).save(folder / f"{Path(entry.path).stem}.png")
    print(f"wrote the middle frames of {manifest} to {out}; {skipped} videos skipped")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
