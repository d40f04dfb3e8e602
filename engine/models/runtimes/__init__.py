"""Runtimes other than PyTorch for the encoders' forward pass, each proven against PyTorch float32."""
