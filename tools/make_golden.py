#!/usr/bin/env python3
"""Golden fixture for tests/models/golden_test.cpp, computed by an independent PyTorch model.

Builds, in plain torch.nn, a tiny-width SPML ResNet-DeepLab that mirrors models/resnet.cpp,
models/deeplab_aspp.cpp and models/embedding_model.cpp (deep stem, bottleneck v1.5, output
stride 8 by dilation, DeepLab-v2 ASPP summed over rates 6/12/18/24, bilinear x2 with
align_corners=False, L2 normalization over D), runs one training step in train mode and writes
tests/fixtures/golden/:

  weights.safetensors  parameters and BN buffers before the step, PyTorch names, OIHW conv
                       weights, __metadata__ {"layout": "OIHW"} (as tools/convert_weights.py)
  golden.safetensors   input.image [N,H,W,3] and input.target [N,h,w,D] (NHWC);
                       act.{stem,layer1..4,raw,embedding} in NHWC;
                       loss.value [1] = sum(embedding * target);
                       grad.<name> every parameter gradient; after.<name> every parameter after
                       one SGD step (lr 0.01, momentum 0.9, weight decay 5e-4) and every BN
                       running buffer after the forward; 4-D tensors in OHWI (the engine's layout)

Needs Debian's python3-torch (run with /usr/bin/python3); the test itself needs no Python.
The safetensors package is not required: the writer below is the format's whole definition
(8-byte little-endian header length, JSON header, raw little-endian data).

  /usr/bin/python3 tools/make_golden.py [--out tests/fixtures/golden]

--bench 2 instead times PyTorch on the two cases of bench/models_bench.cpp with 2 threads.

--resnet101-check DIR instead writes a full-size torchvision-architecture ResNet-101 (random
weights, fixed seed), a 1x3x224x224 input and its layer4 output to DIR (large; keep it out of
the repository) for the by-hand comparison described in docs/models.md.
"""

import argparse
import copy
import json
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTH = 4
BLOCKS = (2, 1, 1, 1)
EMBEDDING_DIM = 8
RATES = (6, 12, 18, 24)
INPUT_SHAPE = (2, 33, 29, 3)  # N, H, W, C; batch 2 so that BN batch statistics are defined
LR, MOMENTUM, WEIGHT_DECAY = 0.01, 0.9, 5e-4


def write_safetensors(path, tensors, metadata=None):
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    blobs, offset = [], 0
    for name, t in tensors:
        t = t.detach().to(torch.float32).contiguous().cpu()
        data = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)  # keeps the data 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


class Bottleneck(nn.Module):
    def __init__(self, inplanes, width, out, stride, dilation, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, padding=dilation, dilation=dilation,
                               bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.downsample = None
        if downsample:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride, bias=False),
                                            nn.BatchNorm2d(out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class ResNet(nn.Module):
    """torchvision's ResNet with replace_stride_with_dilation, and optionally the deep stem."""

    def __init__(self, blocks, width, output_stride, deep_stem, num_classes=0):
        super().__init__()
        w = width
        if deep_stem:
            self.conv1 = nn.Sequential(
                nn.Conv2d(3, w, 3, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
                nn.Conv2d(w, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
                nn.Conv2d(w, 2 * w, 3, 1, 1, bias=False))
            stem = 2 * w
        else:
            self.conv1 = nn.Conv2d(3, w, 7, 2, 3, bias=False)
            stem = w
        self.bn1 = nn.BatchNorm2d(stem)
        dilate = (False, False, output_stride == 8, output_stride <= 16)
        inplanes, dilation = stem, 1
        for s in range(4):
            width_s, out = w << s, 4 * (w << s)
            stride = 1 if s == 0 else 2
            previous = dilation
            if dilate[s]:
                dilation *= stride
                stride = 1
            layers = []
            for b in range(blocks[s]):
                layers.append(Bottleneck(inplanes if b == 0 else out, width_s, out,
                                         stride if b == 0 else 1,
                                         previous if b == 0 else dilation,
                                         b == 0 and (stride != 1 or inplanes != out)))
            setattr(self, f"layer{s + 1}", nn.Sequential(*layers))
            inplanes = out
        self.fc = nn.Linear(inplanes, num_classes) if num_classes > 0 else None

    def forward(self, x):
        f = {}
        f["stem"] = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        y = f["stem"]
        for s in range(1, 5):
            y = getattr(self, f"layer{s}")(y)
            f[f"layer{s}"] = y
        if self.fc is not None:
            f["logits"] = self.fc(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))
        return f


class ASPP(nn.Module):
    def __init__(self, inplanes, out, rates):
        super().__init__()
        for i, r in enumerate(rates):
            setattr(self, f"aspp_{i + 1}",
                    nn.Sequential(nn.Conv2d(inplanes, out, 3, padding=r, dilation=r, bias=True)))
        self.n = len(rates)

    def forward(self, x):
        return sum(getattr(self, f"aspp_{i + 1}")(x) for i in range(self.n))


class EmbeddingModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = ResNet(BLOCKS, WIDTH, 8, deep_stem=True)
        self.aspp = ASPP(32 * WIDTH, EMBEDDING_DIM, RATES)

    def forward(self, x):
        f = self.backbone(x)
        y = self.aspp(f["layer4"])
        y = F.interpolate(y, size=(2 * y.shape[2], 2 * y.shape[3]), mode="bilinear",
                          align_corners=False)
        f["raw"] = y
        f["embedding"] = F.normalize(y, p=2, dim=1)
        return f


def randomize(model, gen):
    """Deterministic, non-trivial values for every parameter and BN buffer."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1]
                m.weight.normal_(0.0, (2.0 / fan_out) ** 0.5, generator=gen)
                if m.bias is not None:
                    m.bias.uniform_(-0.1, 0.1, generator=gen)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.2, 0.2, generator=gen)
                m.running_mean.uniform_(-0.1, 0.1, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / m.in_features ** 0.5
                m.weight.uniform_(-bound, bound, generator=gen)
                m.bias.uniform_(-bound, bound, generator=gen)


def nhwc(t):
    """NCHW activations and OIHW weights to the engine's NHWC / OHWI."""
    return t.permute(0, 2, 3, 1) if t.dim() == 4 else t


def state_tensors(model):
    return [(k, v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]


def make_golden(out_dir):
    torch.set_default_dtype(torch.float32)
    gen = torch.Generator().manual_seed(20261122)
    model = EmbeddingModel()
    randomize(model, gen)
    model.train()
    os.makedirs(out_dir, exist_ok=True)
    write_safetensors(os.path.join(out_dir, "weights.safetensors"), state_tensors(model),
                      {"layout": "OIHW", "format": "pytorch", "source": "tools/make_golden.py"})

    n, h, w, c = INPUT_SHAPE
    image = torch.randn(n, c, h, w, generator=gen)
    f = model(image)
    target = torch.randn(f["embedding"].shape, generator=gen)
    loss = (f["embedding"] * target).sum()
    loss.backward()

    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    opt.step()

    out = [("input.image", nhwc(image)), ("input.target", nhwc(target))]
    for k in ("stem", "layer1", "layer2", "layer3", "layer4", "raw", "embedding"):
        out.append((f"act.{k}", nhwc(f[k])))
    out.append(("loss.value", loss.reshape(1)))
    for k, p in model.named_parameters():
        out.append((f"grad.{k}", nhwc(p.grad)))
    for k, v in state_tensors(model):
        out.append((f"after.{k}", nhwc(v)))
    write_safetensors(os.path.join(out_dir, "golden.safetensors"), out,
                      {"lr": str(LR), "momentum": str(MOMENTUM),
                       "weight_decay": str(WEIGHT_DECAY), "torch": torch.__version__})
    total = sum(os.path.getsize(os.path.join(out_dir, x))
                for x in ("weights.safetensors", "golden.safetensors"))
    print(f"wrote {out_dir}: loss {loss.item():.6f}, {total} bytes")


def resnet101_check(out_dir):
    gen = torch.Generator().manual_seed(101)
    model = ResNet((3, 4, 23, 3), 64, 32, deep_stem=False, num_classes=1000)
    randomize(model, gen)
    image = torch.randn(1, 3, 224, 224, generator=gen)
    # Random running statistics make 33 residual blocks blow activations up to ~1e7; set them
    # to the batch statistics (momentum 1) of 4 other images, as a trained network's would be,
    # so that the compared output has a sane scale. (Statistics of the compared image itself
    # would leave near-zero variances in the 7x7 layer4 and amplify rounding ~5x.)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = 1.0
        model.train()
        model(torch.randn(4, 3, 224, 224, generator=gen))
        model.eval()
        f = model(image)
        # The same in float64: the conditioning of this network decides how far any float32
        # implementation (PyTorch's included) can be from the exact result.
        f64 = copy.deepcopy(model).double()(image.double())
    os.makedirs(out_dir, exist_ok=True)
    write_safetensors(os.path.join(out_dir, "resnet101_weights.safetensors"),
                      state_tensors(model), {"layout": "OIHW"})
    write_safetensors(os.path.join(out_dir, "resnet101_io.safetensors"),
                      [("image", nhwc(image)), ("layer4", nhwc(f["layer4"])),
                       ("logits", f["logits"]), ("layer4_f64", nhwc(f64["layer4"])),
                       ("logits_f64", f64["logits"])])
    err = ((f["layer4"].double() - f64["layer4"]).abs().max() / f64["layer4"].abs().max()).item()
    print(f"wrote {out_dir}: layer4 {tuple(f['layer4'].shape)}; PyTorch float32 vs float64: "
          f"relative {err:.3g}")


def bench(threads):
    """PyTorch timings of the two bench/models_bench.cpp cases (wall and process CPU time)."""
    import time
    torch.set_num_threads(threads)

    def timed(name, fn, reps):
        fn()  # warm-up
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(reps):
            fn()
        wall = (time.perf_counter() - w0) / reps
        cpu = (time.process_time() - c0) / reps
        print(f"{name}: wall {wall * 1e3:.0f} ms, CPU {cpu * 1e3:.0f} ms per iteration "
              f"({reps} iterations, {threads} threads)")

    gen = torch.Generator().manual_seed(7)
    resnet = ResNet((3, 4, 23, 3), 64, 32, deep_stem=False, num_classes=1000)
    randomize(resnet, gen)
    resnet.train()
    image = torch.randn(2, 3, 224, 224, generator=gen)
    labels = torch.full((2,), 7, dtype=torch.long)
    opt = torch.optim.SGD(resnet.parameters(), lr=1e-3, momentum=0.9, weight_decay=1e-4)

    def train_step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(resnet(image)["logits"], labels).backward()
        opt.step()

    timed("ResNet-101 train step, batch 2, 224x224", train_step, 5)

    class DeepLab(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = ResNet((3, 4, 23, 3), 64, 8, deep_stem=True)
            self.aspp = ASPP(2048, 64, RATES)

        def forward(self, x):
            y = self.aspp(self.backbone(x)["layer4"])
            y = F.interpolate(y, size=(2 * y.shape[2], 2 * y.shape[3]), mode="bilinear",
                              align_corners=False)
            return F.normalize(y, p=2, dim=1)

    deeplab = DeepLab()
    randomize(deeplab, gen)
    deeplab.eval()
    x = torch.randn(1, 3, 321, 321, generator=gen)

    def forward():
        with torch.no_grad():
            deeplab(x)

    timed("DeepLab-v2 (deep stem, OS8, D 64) forward, 1x321x321", forward, 5)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures", "golden"))
    ap.add_argument("--resnet101-check", metavar="DIR",
                    help="write the full-size ResNet-101 comparison files to DIR instead")
    ap.add_argument("--bench", type=int, metavar="THREADS",
                    help="time PyTorch on the bench/models_bench.cpp cases instead")
    args = ap.parse_args()
    if args.bench:
        bench(args.bench)
        return
    torch.set_num_threads(max(1, torch.get_num_threads()))
    if args.resnet101_check:
        resnet101_check(args.resnet101_check)
    else:
        make_golden(os.path.normpath(args.out))


if __name__ == "__main__":
    main()
