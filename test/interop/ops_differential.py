#!/usr/bin/python3
"""The Python half of test/ops-differential.test.ts: runs each case (an operator of torch, its arguments) with
PyTorch and prints the results as JSON: shape, dtype, values (non-finite floats as strings), the gradient of
the first input when the result is differentiable, or the error.  Usage: ops_differential.py CASES.json"""
import json
import math
import sys

import torch
import os
DEBUG = os.environ.get('LT_DEBUG')


def encode_value(v):
    if isinstance(v, float) and not math.isfinite(v):
        return 'nan' if math.isnan(v) else ('inf' if v > 0 else '-inf')
    return v


def encode(value):
    if isinstance(value, torch.Tensor):
        if value._is_zerotensor():  # sgn's gradient, say: tolist() cannot read it
            value = torch.zeros(value.shape, dtype=value.dtype)
        if value.is_complex():
            return {'kind': 'unsupported', 'what': str(value.dtype)}
        flat = value.detach().reshape(-1).tolist()
        return {'kind': 'tensor', 'dtype': str(value.dtype).replace('torch.', ''), 'shape': list(value.shape),
                'data': [encode_value(float(x)) if isinstance(x, float) else x for x in flat]}
    if isinstance(value, (list, tuple)):
        return {'kind': 'list', 'items': [encode(v) for v in value]}
    if isinstance(value, (bool, int, float)):
        return {'kind': 'scalar', 'value': encode_value(value)}
    return {'kind': 'unsupported', 'what': type(value).__name__}


def decode(arg, grad):
    if isinstance(arg, dict) and 'tensor' in arg:
        spec = arg['tensor']
        data = [float(x) if isinstance(x, str) else x for x in spec['data']]
        t = torch.tensor(data, dtype=getattr(torch, spec['dtype'])).reshape(spec['shape'])
        if grad and t.is_floating_point():
            t.requires_grad_(True)
        return t
    if isinstance(arg, list):
        return [decode(a, False) for a in arg]
    return arg


def first_tensor(value):
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], torch.Tensor):
        return value[0]
    return None


def run(case):
    if DEBUG:
        sys.stderr.write(case['op'] + ' ' + json.dumps(case['args'])[:200] + '\n'); sys.stderr.flush()
    args = [decode(a, case['grad'] and i == 0) for i, a in enumerate(case['args'])]
    section = case['section']
    if section == 'Tensor':
        fn = getattr(args[0], case['op'])
        args = args[1:]
    else:
        fn = getattr({'torch': torch, 'functional': torch.nn.functional}.get(section) or getattr(torch, section), case['op'])
    try:
        result = fn(*args, **case.get('kwargs', {}))
    except Exception as e:  # noqa: BLE001 (the message is the result)
        return {'kind': 'error', 'message': str(e).split('\n')[0]}
    try:
        out = encode(result)
    except Exception as e:  # noqa: BLE001 (a sparse or storage-less result)
        return {'kind': 'unsupported', 'what': str(e).split('\n')[0]}
    if case['grad']:
        x, y = (fn.__self__ if section == 'Tensor' else args[0]), first_tensor(result)
        if isinstance(x, torch.Tensor) and x.requires_grad and y is not None and y.requires_grad:
            try:
                y.sum().backward()
                out['grad'] = encode(x.grad) if x.grad is not None else None
            except Exception as e:  # noqa: BLE001
                out['grad'] = {'kind': 'error', 'message': str(e).split('\n')[0]}
    return out


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    print(json.dumps({'torch': torch.__version__, 'results': [run(c) for c in cases]}))


main()
