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

print(json.dumps({
    'version': torch.__version__,
    'torch': public(torch, is_function),
    'Tensor': public(torch.Tensor, lambda v: callable(v) and not inspect.isclass(v)),
    'functional': public(F, is_function),
    'linalg': public(torch.linalg, is_function),
    'special': public(torch.special, is_function),
    'fft': public(torch.fft, is_function),
}, indent=0))
