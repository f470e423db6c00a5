"""The PyTorch side of the state-dict round trip with lenet-torch (test/interop.test.ts), on the chapter's LeNet.

    python3 test/interop/lenet_roundtrip.py load NODE.pt
        loads a state dict that lenet-torch saved into the chapter's PyTorch net and prints its test accuracy
    python3 test/interop/lenet_roundtrip.py save OUT.pt [--epochs 1] [--seed 0]
        trains the chapter's net as d2l's train_ch6 does (Xavier init, SGD lr 0.9, batch 256), saves its state dict
        with torch.save and prints its test accuracy

Each prints one JSON line: {"accuracy", "correct", "count", "logit_sums", "torch", ...}. Only torch is needed (Debian:
apt-get install python3-torch); the Fashion-MNIST IDX files are read from $FASHION_MNIST_DIR or Debian's
/usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist), gzipped or not.
"""
import argparse
import gzip
import inspect
import json
import os
import sys
import time

import torch
from torch import nn

DATA_DIRS = [os.environ.get('FASHION_MNIST_DIR'), '/usr/share/datasets/fashion-mnist']


class Reshape(nn.Module):
    """The chapter's Reshape: x.view(-1, 1, 28, 28)."""

    def forward(self, x):
        return x.view(-1, 1, 28, 28)


def lenet():
    """The chapter's net, layer for layer (so its state dict has the chapter's keys: '1.weight', '1.bias', ...)."""
    return nn.Sequential(
        Reshape(),
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))


def read_idx(name):
    """One IDX file as a uint8 tensor shaped as its header says."""
    for folder in DATA_DIRS:
        if not folder:
            continue
        for path, opener in ((os.path.join(folder, name + '.gz'), gzip.open), (os.path.join(folder, name), open)):
            if os.path.exists(path):
                with opener(path, 'rb') as f:
                    data = f.read()
                dims = data[3]
                shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(dims)]
                return torch.frombuffer(bytearray(data[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)
    sys.exit(f'{name}: not found in $FASHION_MNIST_DIR or /usr/share/datasets/fashion-mnist')


def load_split(prefix):
    """Images as float32 [N, 1, 28, 28] in [0, 1] (torchvision's ToTensor), labels as int64 [N]."""
    images = read_idx(f'{prefix}-images-idx3-ubyte').float().div(255).unsqueeze(1)
    labels = read_idx(f'{prefix}-labels-idx1-ubyte').long()
    return images, labels


def evaluate(net, images, labels, batch_size=256):
    """d2l's evaluate_accuracy_gpu: correct predictions over all examples, in eval mode, without autograd; and the
    sum of each class's logit over the examples (in float64), a finer fingerprint of the weights than accuracy."""
    net.eval()
    correct = 0
    sums = torch.zeros(10, dtype=torch.float64)
    with torch.no_grad():
        for i in range(0, len(labels), batch_size):
            out = net(images[i:i + batch_size])
            correct += int((out.argmax(1) == labels[i:i + batch_size]).sum())
            sums += out.double().sum(0)
    return correct, len(labels), sums.tolist()


def train(net, epochs, lr=0.9, batch_size=256):
    """d2l's train_ch6 on the CPU: Xavier-uniform weights, SGD, mean cross-entropy, reshuffled each epoch."""
    def init_weights(m):
        if type(m) in (nn.Linear, nn.Conv2d):
            nn.init.xavier_uniform_(m.weight)
    net.apply(init_weights)
    images, labels = load_split('train')
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    for _ in range(epochs):
        net.train()
        order = torch.randperm(len(labels))
        for i in range(0, len(labels), batch_size):
            batch = order[i:i + batch_size]
            optimizer.zero_grad()
            loss(net(images[batch]), labels[batch]).backward()
            optimizer.step()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('mode', choices=['load', 'save'])
    parser.add_argument('path')
    parser.add_argument('--epochs', type=int, default=1)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    net = lenet()
    report = {'torch': torch.__version__}
    started = time.time()
    if args.mode == 'load':
        # weights_only=True where this torch has it (1.13 and later; the default from 2.6): only data may load.
        weights_only = 'weights_only' in inspect.signature(torch.load).parameters
        state_dict = torch.load(args.path, map_location='cpu', **({'weights_only': True} if weights_only else {}))
        net.load_state_dict(state_dict)
        report.update(weights_only=weights_only, keys=list(state_dict.keys()))
    else:
        train(net, args.epochs)
        torch.save(net.state_dict(), args.path)
        report.update(epochs=args.epochs)
    images, labels = load_split('t10k')
    correct, count, logit_sums = evaluate(net, images, labels)
    report.update(accuracy=correct / count, correct=correct, count=count, logit_sums=logit_sums,
                  seconds=round(time.time() - started, 2))
    print(json.dumps(report))


if __name__ == '__main__':
    main()
