"""k-means compressed video storage: a codebook of pixel patches, videos stored as patch codes."""
