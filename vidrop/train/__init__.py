"""Pretraining: the student/teacher meta-architecture, schedules, optimizer, checkpoints, loop."""
