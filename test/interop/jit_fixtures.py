"""TorchScript fixtures for test/jit.test.ts, made with Python's torch at test time (nothing binary is checked in).

    python3 test/interop/jit_fixtures.py make DIR      writes the files below into DIR, prints a JSON report
    python3 test/interop/jit_fixtures.py run MODEL.pt INPUTS.pt OUT.pt
                                                      torch.jit.load(MODEL)(*inputs['args']) saved as {'out': ...}

make writes:
    resnet18_traced.pt, resnet18_scripted.pt   torchvision's resnet18 (weights=None, seeded, eval), traced / scripted
    resnet18_io.pt          {'x': input, 'traced': output, 'scripted': output}
    control.pt              a scripted module with a loop and an `if` on a tensor value, a method `describe`
                            that takes and returns the other types a schema can have, and a method `opaque` that
                            returns an object of a TorchScript class
    control_io.pt           inputs and Python's outputs for both branches
    state_dict.pt           a state dict saved by torch.save: not a module
    missing_op.pt           a scripted module calling lenet_test::twice, an operator only this script defines
    cuda.pt, cuda_io.pt     a traced Linear whose storages say they live on cuda:0 (data.pkl's location tags
                            rewritten: this machine need not have CUDA); its input and output
"""
import io
import json
import os
import sys
import zipfile
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor, nn


@torch.jit.script
class Pair:
    def __init__(self, a: int):
        self.a = a


class Control(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor([2.0, 3.0]))

    def forward(self, x: Tensor, n: int) -> Tensor:
        for _ in range(n):
            x = x * self.scale + 1.0
        if bool(x.sum() > 0):
            return x.relu() * 10.0
        else:
            return -x

    @torch.jit.export
    def describe(self, xs: List[Tensor], factor: float, name: str, counts: Dict[str, int], flag: bool,
                 maybe: Optional[Tensor], pair: Tuple[int, str]) -> Tuple[str, Tensor, Dict[str, int], List[int],
                                                                         Optional[int], bool, float]:
        total = torch.zeros(2)
        for x in xs:
            total = total + x
        out: Dict[str, int] = {}
        for k, v in counts.items():
            out[k + "!"] = v * 2
        extra: Optional[int] = None
        if maybe is not None:
            extra = int(maybe.numel())
        return name + ":" + pair[1], total * factor, out, [len(xs), pair[0]], extra, not flag, factor / 4

    @torch.jit.export
    def opaque(self) -> Pair:
        return Pair(1)


def resnet18():
    import torchvision
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None).eval()


def with_cuda_tags(src, dst):
    """Copies a TorchScript archive, its data.pkl saying each storage lives on cuda:0 instead of cpu."""
    old, new = b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith("/data.pkl"):
                assert old in data, "no cpu location tag in data.pkl"
                data = data.replace(old, new)
            zout.writestr(info.filename, data)


def make(out):
    report = {"torch": torch.__version__}
    torch.set_num_threads(1)
    net = resnet18()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        traced = torch.jit.trace(net, x)
        scripted = torch.jit.script(net)
        traced.save(os.path.join(out, "resnet18_traced.pt"))
        scripted.save(os.path.join(out, "resnet18_scripted.pt"))
        torch.save({"x": x, "traced": traced(x), "scripted": scripted(x)}, os.path.join(out, "resnet18_io.pt"))

    control = torch.jit.script(Control())
    control.save(os.path.join(out, "control.pt"))
    pos, neg = torch.tensor([1.0, 2.0]), torch.tensor([-5.0, -1.0])
    io_ = {"pos": pos, "neg": neg, "pos_out": control(pos, 3), "neg_out": control(neg, 0)}
    torch.save(io_, os.path.join(out, "control_io.pt"))
    report["branches"] = [bool((control(pos, 3) > 0).any()), bool((control(neg, 0) > 0).any())]
    report["describe"] = repr(control.describe([torch.ones(2), torch.ones(2)], 2.0, "a", {"k": 3}, True, None, (7, "b")))

    torch.save(net.state_dict(), os.path.join(out, "state_dict.pt"))

    lib = torch.library.Library("lenet_test", "DEF")
    lib.define("twice(Tensor x) -> Tensor")
    lib.impl("twice", lambda t: t * 2, "CPU")

    class Missing(nn.Module):
        def forward(self, x: Tensor) -> Tensor:
            return torch.ops.lenet_test.twice(x)

    torch.jit.script(Missing()).save(os.path.join(out, "missing_op.pt"))

    torch.manual_seed(1)
    linear = nn.Linear(4, 3)
    z = torch.randn(2, 4)
    # Where Python has a GPU, a real CUDA save; else a CPU save rewritten to say CUDA, which is what a CUDA save looks
    # like to a CPU-only PyTorch: refused without map_location, loaded with it.
    report["python_cuda"] = torch.cuda.is_available()
    if report["python_cuda"]:
        torch.jit.trace(linear.cuda(), z.cuda()).save(os.path.join(out, "cuda.pt"))
        linear.cpu()
    else:
        plain = os.path.join(out, "cuda_plain.pt")
        torch.jit.trace(linear, z).save(plain)
        with_cuda_tags(plain, os.path.join(out, "cuda.pt"))
        os.remove(plain)
    try:
        torch.jit.load(os.path.join(out, "cuda.pt"))
        report["cuda_refused_in_python"] = False
    except Exception:
        report["cuda_refused_in_python"] = True
    cpu = torch.jit.load(os.path.join(out, "cuda.pt"), map_location="cpu")
    torch.save({"x": z, "out": cpu(z).detach()}, os.path.join(out, "cuda_io.pt"))
    print(json.dumps(report))


def run(model, inputs, out):
    torch.set_num_threads(1)
    m = torch.jit.load(model, map_location="cpu")
    args = torch.load(inputs)["args"]
    with torch.no_grad():
        y = m(*args)
    torch.save({"out": y}, out)
    print(json.dumps({"torch": torch.__version__, "code": m.code}))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    elif sys.argv[1] == "run":
        run(*sys.argv[2:5])
    else:
        sys.exit(__doc__)
