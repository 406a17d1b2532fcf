"""Checkpoints of pytrees: see `jumba.checkpoint_io`."""
