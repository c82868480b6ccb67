#!/usr/bin/env python3
"""Convert a PyTorch .pth/.pt state dict into a safetensors file this engine loads by name.

Optional helper for users who have PyTorch; the engine itself never needs Python. Examples:

  # torchvision ImageNet ResNet-101
  python3 tools/convert_weights.py resnet101-63fe2227.pth resnet101.safetensors

  # CUHK/EMANet deep-stem ResNet-101 (SPML's resnet-101-cuhk.pth)
  python3 tools/convert_weights.py resnet-101-cuhk.pth resnet101_cuhk.safetensors

  # An SPML checkpoint: {'embedding_model': ..., 'prediction_model': ...}
  python3 tools/convert_weights.py model.pth embedding.safetensors --key embedding_model
  python3 tools/convert_weights.py model.pth classifier.safetensors --key prediction_model

Tensors keep their PyTorch names and values. Convolution weights stay OIHW and the header's
__metadata__ says "layout": "OIHW", so the loader (models/weights.h) permutes them to OHWI once;
--layout OHWI permutes here instead. A leading "module." (DataParallel) is dropped. Names are not
otherwise changed: the loader maps SPML's (models::spml_checkpoint_renames) and the deep-stem
namings itself. Floating tensors are written as float32 unless --keep-dtype.
"""

import argparse
import json
import struct
import sys

import torch

_DTYPES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


def find_state_dict(obj, key):
    if key is not None:
        if not isinstance(obj, dict) or key not in obj:
            keys = list(obj.keys()) if isinstance(obj, dict) else type(obj).__name__
            sys.exit(f"convert_weights: no key '{key}' in the checkpoint (it has: {keys})")
        obj = obj[key]
    elif isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if hasattr(obj, "state_dict") and not isinstance(obj, dict):
        obj = obj.state_dict()
    tensors = {k: v for k, v in obj.items() if torch.is_tensor(v)}
    if not tensors:
        sys.exit("convert_weights: no tensors found; pick the state dict with --key "
                 f"(top-level keys: {list(obj.keys())[:20]})")
    return tensors


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", help=".pth / .pt file (a state dict or a dict holding one)")
    ap.add_argument("output", help="output .safetensors path")
    ap.add_argument("--key", help="entry of the checkpoint dict that holds the state dict "
                    "(e.g. embedding_model, prediction_model)")
    ap.add_argument("--layout", choices=["OIHW", "OHWI"], default="OIHW",
                    help="layout of 4-D convolution weights in the output (default OIHW)")
    ap.add_argument("--keep-dtype", action="store_true",
                    help="keep f16/bf16/f64 tensors as they are instead of float32")
    args = ap.parse_args()

    obj = torch.load(args.input, map_location="cpu")
    tensors = find_state_dict(obj, args.key)

    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        if name.startswith("module."):
            name = name[len("module."):]
        t = t.detach().cpu()
        if t.is_floating_point() and not args.keep_dtype:
            t = t.float()
        if t.dim() == 4 and args.layout == "OHWI":
            t = t.permute(0, 2, 3, 1)
        t = t.contiguous()
        if t.dtype not in _DTYPES:
            sys.exit(f"convert_weights: {name} has unsupported dtype {t.dtype}")
        if t.dtype == torch.bfloat16:
            data = t.view(torch.int16).numpy().tobytes()
        else:
            data = t.numpy().tobytes()
        if name in header:
            sys.exit(f"convert_weights: duplicate name {name} after dropping 'module.'")
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"layout": args.layout, "source": args.input}

    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * ((8 - len(raw) % 8) % 8)  # keeps the buffer 8-byte aligned
    with open(args.output, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)
    print(f"wrote {len(blobs)} tensors ({offset / 1e6:.1f} MB, conv layout {args.layout}) "
          f"to {args.output}")


if __name__ == "__main__":
    main()
