"""Where the encoders can run and in which precision: the choices both interfaces offer (torch-free)."""

from __future__ import annotations

DEVICE_CHOICES = ("auto", "cuda", "cpu")
PRECISION_CHOICES = ("auto", "float32", "float16", "bfloat16")
DEVICE_LABELS = {
    "auto": "Automatic (CUDA when present, half precision)",
    "cuda": "CUDA GPU",
    "cpu": "CPU (float32)",
}
