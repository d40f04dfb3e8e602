"""Encoder throughput per modality, BindScope's attention against the reference's, in one process.

The baseline is the same network with the same weights, its attention swapped for the
reference's layout: sequence-first ``nn.MultiheadAttention`` (with the explicit causal mask
for text), transposing in and out of every trunk as the reference does.

    python benchmarks/encode.py                       # ImageBind-huge, random weights, CPU float32
    python benchmarks/encode.py --batch-size 8 --device cuda --precision float16
    python benchmarks/encode.py --config demo --modalities vision audio
    python benchmarks/encode.py --runtimes --config demo     # the CPU's int8 runtime vs PyTorch float32

Prints one line per modality: items/s for BindScope and the baseline, and their ratio.
The baseline always runs in float32 (the reference has no mixed-precision path).
With ``--runtimes`` it times the product path (``LoadedModel.embed``) with the CPU's int8 runtime
(OpenVINO, int8 weights, every convertible tower) beside PyTorch float32 on the same weights (the
named checkpoint's, else random) and reports min/mean cosine of the int8 vectors to the float32 ones.
The first int8 call of a tower converts it (cached), so the warm-up call is not timed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.modality import Modality
from engine.models.imagebind import ImageBindModel
from engine.models.runtime import Runtime, choose_runtime
from engine.models.transformer import Attention, Transformer
from engine.models.zoo import resolve
from engine.preprocess.spec import PreprocessSpec


class ReferenceAttention(nn.Module):
    """The reference's attention: ``nn.MultiheadAttention`` on [L, B, D], sharing our parameters."""

    def __init__(self, ours: Attention):
        super().__init__()
        dim = ours.out_proj.in_features
        self.mha = nn.MultiheadAttention(dim, ours.num_heads, add_bias_kv=ours.bias_k is not None)
        self.mha.load_state_dict(ours.state_dict())
        self.causal = ours.causal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = None
        if self.causal:
            mask = torch.full((x.shape[0], x.shape[0]), float("-inf"), device=x.device).triu_(1)
        return self.mha(x, x, x, need_weights=False, attn_mask=mask)[0]


class ReferenceLayout(nn.Module):
    """A trunk run sequence-first: transpose in, blocks with reference attention, transpose out."""

    def __init__(self, trunk: Transformer):
        super().__init__()
        self.pre = trunk.pre_transformer_layer
        self.blocks = trunk.blocks
        for block in self.blocks:
            block.attn = ReferenceAttention(block.attn)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.pre(tokens).transpose(0, 1)
        for block in self.blocks:
            x = block(x)
        return x.transpose(0, 1)


def reference_twin(model: ImageBindModel) -> ImageBindModel:
    twin = ImageBindModel(model.config).eval()
    twin.load_state_dict(model.state_dict())
    for key in list(twin.modality_trunks):
        twin.modality_trunks[key] = ReferenceLayout(twin.modality_trunks[key])
    return twin


def synthetic_batch(modality: Modality, spec: PreprocessSpec, batch: int) -> torch.Tensor:
    size = spec.image_size
    if modality is Modality.TEXT:
        tokens = torch.randint(1, 49405, (batch, spec.text_context_length))
        tokens[:, 0], tokens[:, 20] = 49406, 49407
        tokens[:, 21:] = 0
        return tokens
    shapes = {
        Modality.VISION: (3, size, size),
        Modality.AUDIO: (spec.audio_clips, 1, spec.audio_num_mel_bins, spec.audio_target_len),
        Modality.DEPTH: (1, size, size),
        Modality.THERMAL: (1, size, size),
        Modality.IMU: (6, spec.imu_length),
    }
    return torch.randn(batch, *shapes[modality])


def items_per_second(
    model: ImageBindModel, runtime: Runtime, modality: Modality, batch: torch.Tensor, repeats: int
) -> float:
    batch = batch.to(runtime.device)
    with torch.inference_mode(), runtime.autocast():
        model.encode(modality, batch)  # warm-up
        if runtime.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeats):
            model.encode(modality, batch)
        if runtime.is_cuda:
            torch.cuda.synchronize()
    return batch.shape[0] * repeats / (time.perf_counter() - start)


def compare_runtimes(args) -> None:
    from engine.models.factory import LoadedModel, load_model

    entry = resolve(args.config)
    if entry.available:
        exact = load_model(entry, device="cpu", precision="float32")
    else:
        torch.manual_seed(0)
        exact = LoadedModel(entry, ImageBindModel(entry.config).eval(), choose_runtime("cpu", "float32"))
    fast = LoadedModel(entry, exact.network, choose_runtime("cpu", "int8"))
    weights = f"weights of {entry.weights_path.name}" if entry.available else "random weights"
    print(
        f"# {entry.title}, {weights}, batch {args.batch_size}, {args.repeats} repeats, {torch.get_num_threads()} threads"
    )
    for name in args.modalities:
        modality = Modality(name)
        batch = synthetic_batch(modality, entry.spec, args.batch_size)
        speeds, outputs = {}, {}
        for label, model in (("float32", exact), ("int8", fast)):
            outputs[label] = model.embed(modality, batch)  # warm-up (and the first int8 use converts)
            start = time.perf_counter()
            for _ in range(args.repeats):
                model.embed(modality, batch)
            speeds[label] = args.batch_size * args.repeats / (time.perf_counter() - start)
        cosine = torch.nn.functional.cosine_similarity(outputs["int8"], outputs["float32"])
        runtime = "OpenVINO int8" if modality in fast.int8_towers else "PyTorch"
        print(
            f"{name:8s} float32 {speeds['float32']:8.2f} items/s   {runtime} {speeds['int8']:8.2f} items/s   "
            f"ratio {speeds['int8'] / speeds['float32']:5.2f}x   cosine min {cosine.min():.6f} mean {cosine.mean():.6f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--config", default="imagebind-huge", help="a model name from the zoo (random weights are used)"
    )
    parser.add_argument(
        "--modalities", nargs="+", default=[m.value for m in Modality], choices=[m.value for m in Modality]
    )
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--precision", default="auto", choices=["auto", "float32", "float16", "bfloat16"])
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--runtimes", action="store_true", help="the CPU's int8 runtime against PyTorch float32")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.runtimes:
        compare_runtimes(args)
        return

    entry = resolve(args.config)
    runtime = choose_runtime(args.device, args.precision)
    baseline_runtime = choose_runtime(args.device, "float32")
    torch.manual_seed(0)
    ours = ImageBindModel(entry.config).eval()
    baseline = reference_twin(ours).to(runtime.device)
    ours = ours.to(runtime.device)
    print(
        f"# {entry.title}, random weights, batch {args.batch_size}, {args.repeats} repeats, "
        f"BindScope on {runtime.describe()} vs reference attention on {baseline_runtime.describe()}, "
        f"{torch.get_num_threads()} threads"
    )
    for name in args.modalities:
        modality = Modality(name)
        batch = synthetic_batch(modality, entry.spec, args.batch_size)
        base = items_per_second(baseline, baseline_runtime, modality, batch, args.repeats)
        fast = items_per_second(ours, runtime, modality, batch, args.repeats)
        print(
            f"{name:8s} bindscope {fast:9.2f} items/s   reference {base:9.2f} items/s   ratio {fast / base:5.2f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
