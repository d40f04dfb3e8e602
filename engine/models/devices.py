"""Where the encoders can run and in which precision: the choices both interfaces offer (torch-free).

``int8`` runs the CPU's large towers through OpenVINO in int8, weights and activations (engine/models/runtimes):
about 3x float32's speed at a cosine of at least 0.9995 to it. ``float32`` is the exact PyTorch path.
"""

from __future__ import annotations

DEVICE_CHOICES = ("auto", "cuda", "cpu")
PRECISION_CHOICES = ("auto", "float32", "float16", "bfloat16", "int8")
DEVICE_LABELS = {
    "auto": "Automatic (CUDA when present, half precision; else the CPU, int8 for large encoders)",
    "cuda": "CUDA GPU",
    "cpu": "CPU (int8 for large encoders, float32 for the rest)",
}
