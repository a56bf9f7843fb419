"""Benchmarks: each prints the command, the machine and measured figures, and can write JSON."""
