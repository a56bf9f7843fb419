"""Other codebases' checkpoint layouts <-> vidrop's VideoViT state dict."""
