#!/usr/bin/env python3
"""A section of d2l's "Modern Convolutional Neural Networks" trained by PyTorch with the book's own code: the yardstick
for `npm run chapter7` (scripts/chapter7.js), on the same settings.

    /usr/bin/python3 test/bench/chapter7_pytorch.py <alexnet|vgg|nin|googlenet|batchnorm|batchnorm-concise|resnet|densenet>
        [--epochs 10] [--limit N] [--test-limit N] [--lr X] [--batch-size N] [--resize N] [--threads N] [--device cpu|cuda]
        [--loader chapter|memory] [--root /tmp/lenet-torch-bench] [--data /usr/share/datasets/fashion-mnist] [--seed N]

The nets are test/interop/chapter7.py's (the book's #@tab pytorch blocks, also the parity test's reference), with
each section's lr, batch size and resize; d2l's load_data_fashion_mnist (torchvision, Resize, ToTensor, 4 loader
workers), train_ch6 (Xavier-uniform init of Conv2d and Linear weights, SGD, CrossEntropyLoss) and
evaluate_accuracy_gpu are test/bench/pytorch_lenet.py's copies of d2l's. --limit N trains on the first N training
examples only (torch.utils.data.Subset(train, range(N)), as scripts/chapter7.js's --limit does), --test-limit N
evaluates on the first N test examples only. --loader memory skips torchvision's per-image transform (no resize then). Prints d2l's two closing lines, then
one JSON line with the figures and the wall time.
"""
import argparse
import json
import os
import sys
import time

import torch
from torch.utils import data

sys.dont_write_bytecode = True  # no __pycache__ beside the imported scripts
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'interop'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chapter7 import NETS  # noqa: E402
import pytorch_lenet as d2l  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('net', choices=list(NETS))
    parser.add_argument('--epochs', type=int, default=10)
    parser.add_argument('--limit', type=int, help='train on the first N training examples only')
    parser.add_argument('--test-limit', type=int, help='evaluate on the first N test examples only')
    parser.add_argument('--lr', type=float)
    parser.add_argument('--batch-size', type=int)
    parser.add_argument('--resize', type=int)
    parser.add_argument('--threads', type=int)
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--loader', default='chapter', choices=['chapter', 'memory'])
    parser.add_argument('--workers', type=int, default=4)
    parser.add_argument('--root', default='/tmp/lenet-torch-bench')
    parser.add_argument('--data', default='/usr/share/datasets/fashion-mnist')
    parser.add_argument('--seed', type=int)
    args = parser.parse_args()

    make, lr, resize, batch_size = NETS[args.net]
    lr = args.lr if args.lr is not None else lr
    batch_size = args.batch_size or batch_size
    resize = args.resize if args.resize is not None else resize
    if args.loader == 'memory' and resize:
        raise SystemExit('--loader memory does not resize: use --loader chapter')
    d2l.prepare_raw(args.root, args.data)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.seed is not None:
        torch.manual_seed(args.seed)
    device = d2l.try_gpu() if args.device == 'cuda' else torch.device('cpu')

    start = time.perf_counter()
    if args.loader == 'memory':
        args.workers = 0
        train_iter, test_iter = d2l.load_data_in_memory(batch_size, root=args.root)
    else:
        train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size, resize=resize, root=args.root, workers=args.workers)
    if args.limit is not None:
        train_iter = data.DataLoader(data.Subset(train_iter.dataset, range(args.limit)), batch_size, shuffle=True,
                                     num_workers=args.workers)
    if args.test_limit is not None:
        test_iter = data.DataLoader(data.Subset(test_iter.dataset, range(args.test_limit)), batch_size, shuffle=False,
                                    num_workers=args.workers)
    net = make()
    result = d2l.train_ch6(net, train_iter, test_iter, args.epochs, lr, device)
    print(json.dumps({
        'net': args.net, 'epochs': args.epochs, 'limit': args.limit, 'test_limit': args.test_limit, 'lr': lr, 'batch_size': batch_size,
        'resize': resize, 'loader': args.loader, 'workers': args.workers, 'threads': torch.get_num_threads(),
        'device': str(device), 'loss': result['loss'], 'train_acc': result['train_acc'], 'test_acc': result['test_acc'],
        'd2l_examples_per_sec': result['d2l_examples_per_sec'], 'epoch_seconds': result['epoch_seconds'],
        'wall_seconds': time.perf_counter() - start, 'torch': torch.__version__,
    }))


if __name__ == '__main__':
    main()
