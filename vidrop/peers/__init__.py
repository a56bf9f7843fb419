"""Other pretraining methods run by their real implementations, inside vidrop's loop."""
