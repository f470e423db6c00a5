"""Writes test/fixtures/*.pt with Python's torch.save, and beside each the values it holds as JSON, so that
test/serialization.test.ts checks files that PyTorch itself wrote even on a machine without Python's torch.

    python3 test/interop/make_fixtures.py        (Debian: apt-get install python3-torch)
"""
import collections
import json
import os
import pickle
import types

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'fixtures')


def describe(value):
    """The JSON the test compares with: tensors as {dtype, shape, values}, tuples as lists."""
    if isinstance(value, torch.Tensor):
        return {'tensor': str(value.dtype).replace('torch.', ''), 'shape': list(value.shape),
                'values': value.detach().flatten().tolist(), 'requires_grad': value.requires_grad}
    if isinstance(value, dict):
        return {'dict': [[k, describe(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [describe(v) for v in value]
    return value


def write(name, value, **kwargs):
    torch.save(value, os.path.join(OUT, name + '.pt'), **kwargs)
    with open(os.path.join(OUT, name + '.json'), 'w') as f:
        json.dump({'torch': torch.__version__, 'value': describe(value)}, f, indent=1)
        f.write('\n')


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    # A small net's state dict: an OrderedDict with _metadata, as every PyTorch state_dict() is saved.
    net = nn.Sequential(nn.Conv2d(1, 2, kernel_size=3), nn.Sigmoid(), nn.Flatten(), nn.Linear(2 * 2 * 2, 3))
    write('state_dict', net.state_dict())

    # Every dtype lenet-torch has, 0-d and empty tensors, views sharing one storage (one of them not contiguous),
    # a Parameter, and plain data, with pickle protocol 4 (framing, memoize, short strings).
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    write('tensors', collections.OrderedDict([
        ('float32', torch.tensor([1.5, -2.25, 3.0])),
        ('float64', torch.tensor([[1e-300, 2.5]], dtype=torch.float64)),
        ('float16', torch.tensor([0.5, 65504.0], dtype=torch.float16)),
        ('bfloat16', torch.tensor([1.0, -3.0], dtype=torch.bfloat16)),
        ('int64', torch.tensor([-(2 ** 40), 7, 2 ** 50], dtype=torch.int64)),
        ('int32', torch.tensor([-5, 2 ** 31 - 1], dtype=torch.int32)),
        ('int16', torch.tensor([-300, 300], dtype=torch.int16)),
        ('int8', torch.tensor([-128, 127], dtype=torch.int8)),
        ('uint8', torch.tensor([0, 255], dtype=torch.uint8)),
        ('bool', torch.tensor([True, False, True])),
        ('scalar', torch.tensor(3.5)),
        ('empty', torch.zeros(0, 3)),
        ('base', base),
        ('row', base[1]),
        ('transposed', base.t()),
        ('parameter', nn.Parameter(torch.tensor([0.25, 0.75]))),
        ('data', [1, -2, 2 ** 62, 0.5, 'text', None, True, (1, 'two'), {'nested': [False]}]),
    ]), pickle_protocol=4)

    # An OrderedDict whose items are REDUCE's arguments, OrderedDict([('a', 1), ...]) (as older pickles and other
    # writers make it), not SETITEMS after an empty one as Python's own __reduce__ gives: pickle protocol 2.
    class ItemsAsArguments(pickle.Pickler):
        def reducer_override(self, obj):
            if type(obj) is collections.OrderedDict:
                return collections.OrderedDict, (list(obj.items()),)
            return NotImplemented

    pickle_module = types.SimpleNamespace(Pickler=ItemsAsArguments, __name__='pickle')
    write('ordered_dict_args', collections.OrderedDict([
        ('a', 1), ('b', 2), ('nested', collections.OrderedDict([('w', torch.tensor([1.5, 2.5]))])),
    ]), pickle_module=pickle_module, pickle_protocol=2)


if __name__ == '__main__':
    main()
