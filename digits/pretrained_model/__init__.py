"""Pretrained models: job kind, uploads and the "Make pretrained model" action."""
