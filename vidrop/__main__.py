import sys

from vidrop.cli import main

sys.exit(main())
