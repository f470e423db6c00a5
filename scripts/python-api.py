#!/usr/bin/python3
"""The public names of PyTorch's Python API that lenet-torch mirrors: torch, torch.Tensor, torch.nn.functional,
torch.linalg, torch.special and torch.fft (callables not starting with '_'), as JSON on stdout.
Run with Debian's python3-torch (/usr/bin/python3) that matches the libtorch of the build: python3 scripts/python-api.py > lib/ops/python-api.json"""
import inspect
import json

import torch
import torch.nn.functional as F

def public(obj, pred=callable):
    return sorted(n for n in dir(obj) if not n.startswith('_') and pred(getattr(obj, n, None)))

def is_function(value):
    # torch's functions and builtins; not the classes (dtypes, Tensor types, modules) it also exports
    return callable(value) and not inspect.isclass(value) and not inspect.ismodule(value)

def is_method(value):
    return callable(value) and not inspect.isclass(value)

# torch.X and Tensor.X written in Python (torch/functional.py, torch/_tensor.py: tensordot, split, norm, unique, ...)
# have their own signatures over several operators: listed apart, not mapped to the operator of the same name.
print(json.dumps({
    'version': torch.__version__,
    'torch': public(torch, lambda v: is_function(v) and not inspect.isfunction(v)),
    'torch_python': public(torch, inspect.isfunction),
    'Tensor': public(torch.Tensor, lambda v: is_method(v) and not inspect.isfunction(v)),
    'Tensor_python': public(torch.Tensor, inspect.isfunction),
    'functional': public(F, lambda v: is_function(v) and not inspect.isfunction(v)),
    # nn.functional's Python functions with their parameter names: mapped to the operator of the same name only
    # where it takes the same parameters (F.unfold is im2col, aten::unfold is Tensor.unfold).
    # [name, required (no default)] of each parameter.
    'functional_python': {n: [[p.name, p.default is inspect.Parameter.empty]
                              for p in inspect.signature(getattr(F, n)).parameters.values()]
                          for n in public(F, inspect.isfunction)},
    'linalg': public(torch.linalg, is_function),
    'special': public(torch.special, is_function),
    'fft': public(torch.fft, is_function),
}, indent=0))
