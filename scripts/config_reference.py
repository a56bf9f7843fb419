"""Write docs/configuration.md: every config key, its default and meaning, from vidrop/config.py.

python scripts/config_reference.py          # rewrite the page
python scripts/config_reference.py --check  # exit 1 if the page is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

from vidrop.config_reference import markdown

PAGE = Path(__file__).parents[1] / "docs" / "configuration.md"

if __name__ == "__main__":
    text = markdown()
    if "--check" in sys.argv:
        sys.exit(0 if PAGE.read_text() == text else 1)
    PAGE.write_text(text)
    print(f"wrote {PAGE}")
