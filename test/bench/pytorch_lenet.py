#!/usr/bin/env python3
"""One trial of the benchmark (test/bench/run.js): the d2l LeNet chapter's own PyTorch code, then one JSON line.

    /usr/bin/python3 test/bench/pytorch_lenet.py --epochs 10 --threads 2 --device cpu --root DIR [--data DIR]
                                                 [--loader chapter|memory]

The chapter's code, verbatim where possible: d2l's load_data_fashion_mnist (torchvision's FashionMNIST, ToTensor,
DataLoader with get_dataloader_workers() = 4 workers), the net with its Reshape, train_ch6 with init_weights,
SGD and CrossEntropyLoss, and evaluate_accuracy_gpu. Changes: no Animator (no plotting), and a wall-clock timer
around each epoch's whole `for X, y in train_iter` loop, so that examples/sec counts data loading as lenet-torch's
does (the chapter's own d2l.Timer, around the step only, is kept and reported as d2l_examples_per_sec).
With --loader memory, PyTorch's best configuration on this machine instead of the chapter's loader: the images
converted once into an in-memory TensorDataset, batched without worker processes (load_data_in_memory).

--root is torchvision's root: root/FashionMNIST/raw/ must hold the decompressed IDX files (download=False). When
they are missing and --data names a folder with the .gz files (Debian's /usr/share/datasets/fashion-mnist), they
are decompressed there first; the runner does this before the first trial so that no trial pays for it.
"""
import argparse
import gzip
import json
import os
import platform
import resource
import shutil
import time

# The chapter starts its clock nowhere; ours starts with the process (interpreter and imports in), as Node's does.
def process_seconds():
    with open('/proc/self/stat') as f:
        start_ticks = int(f.read().rsplit(')', 1)[1].split()[19])
    with open('/proc/uptime') as f:
        uptime = float(f.read().split()[0])
    return uptime - start_ticks / os.sysconf('SC_CLK_TCK')

import torch
import torchvision
from torch import nn
from torch.utils import data
from torchvision import transforms

RAW_FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']


def prepare_raw(root, source):
    """Decompresses the four .gz files of `source` into root/FashionMNIST/raw (once)."""
    raw = os.path.join(root, 'FashionMNIST', 'raw')
    if all(os.path.isfile(os.path.join(raw, name)) for name in RAW_FILES):
        return
    if not source:
        raise SystemExit(f'{raw} lacks the decompressed Fashion-MNIST files; pass --data with the .gz files')
    os.makedirs(raw, exist_ok=True)
    for name in RAW_FILES:
        for candidate, opener in ((os.path.join(source, name + '.gz'), gzip.open), (os.path.join(source, name), open)):
            if os.path.isfile(candidate):
                with opener(candidate, 'rb') as src, open(os.path.join(raw, name + '.part'), 'wb') as dst:
                    shutil.copyfileobj(src, dst)
                os.replace(os.path.join(raw, name + '.part'), os.path.join(raw, name))
                break
        else:
            raise SystemExit(f'{source} holds neither {name}.gz nor {name}')


# ---- d2l (torch edition), the parts the chapter uses ----

class Timer:
    """Record multiple running times."""
    def __init__(self):
        self.times = []
        self.start()

    def start(self):
        self.tik = time.time()

    def stop(self):
        self.times.append(time.time() - self.tik)
        return self.times[-1]

    def sum(self):
        return sum(self.times)


class Accumulator:
    """For accumulating sums over `n` variables."""
    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *args):
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def __getitem__(self, idx):
        return self.data[idx]


def accuracy(y_hat, y):
    """Compute the number of correct predictions."""
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    cmp = y_hat.type(y.dtype) == y
    return float(cmp.type(y.dtype).sum())


def size(x):
    return x.numel()


def try_gpu(i=0):
    """Return gpu(i) if exists, otherwise return cpu()."""
    if torch.cuda.device_count() >= i + 1:
        return torch.device(f'cuda:{i}')
    return torch.device('cpu')


def get_dataloader_workers(workers=4):
    """Use 4 processes to read the data."""
    return workers


def load_data_fashion_mnist(batch_size, resize=None, root='../data', workers=4):
    """Download the Fashion-MNIST dataset and then load it into memory."""
    trans = [transforms.ToTensor()]
    if resize:
        trans.insert(0, transforms.Resize(resize))
    trans = transforms.Compose(trans)
    mnist_train = torchvision.datasets.FashionMNIST(root=root, train=True, transform=trans, download=False)
    mnist_test = torchvision.datasets.FashionMNIST(root=root, train=False, transform=trans, download=False)
    return (data.DataLoader(mnist_train, batch_size, shuffle=True, num_workers=get_dataloader_workers(workers)),
            data.DataLoader(mnist_test, batch_size, shuffle=False, num_workers=get_dataloader_workers(workers)))


def load_data_in_memory(batch_size, root='../data'):
    """PyTorch's best configuration on this machine: every image converted once (as ToTensor would: float32 in
    [0, 1], shape [N, 1, 28, 28]) into one TensorDataset, batched by a DataLoader without worker processes. No
    per-image PIL conversion and no inter-process queue: each batch is one index gather, as lenet-torch's."""
    def tensors(train):
        ds = torchvision.datasets.FashionMNIST(root=root, train=train, download=False)
        return data.TensorDataset(ds.data.unsqueeze(1).float().div_(255), ds.targets)
    return (data.DataLoader(tensors(True), batch_size, shuffle=True, num_workers=0),
            data.DataLoader(tensors(False), batch_size, shuffle=False, num_workers=0))


# ---- the chapter ----

class Reshape(torch.nn.Module):
    def forward(self, x):
        return x.view(-1, 1, 28, 28)


def evaluate_accuracy_gpu(net, data_iter, device=None):
    """Compute the accuracy for a model on a dataset using a GPU."""
    if isinstance(net, torch.nn.Module):
        net.eval()  # Set the model to evaluation mode
        if not device:
            device = next(iter(net.parameters())).device
    # No. of correct predictions, no. of predictions
    metric = Accumulator(2)
    for X, y in data_iter:
        if isinstance(X, list):
            X = [x.to(device) for x in X]
        else:
            X = X.to(device)
        y = y.to(device)
        metric.add(accuracy(net(X), y), size(y))
    return metric[0] / metric[1]


def train_ch6(net, train_iter, test_iter, num_epochs, lr, device):
    """Train a model with a GPU (defined in Chapter 6)."""
    def init_weights(m):
        if type(m) == nn.Linear or type(m) == nn.Conv2d:
            nn.init.xavier_uniform_(m.weight)
    net.apply(init_weights)
    print('training on', device)
    net.to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    timer, num_batches = Timer(), len(train_iter)
    epoch_seconds = []  # added: each epoch's whole training loop, data loading included
    for epoch in range(num_epochs):
        # Sum of training loss, sum of training accuracy, no. of examples
        metric = Accumulator(3)
        net.train()
        epoch_start = time.perf_counter()
        for i, (X, y) in enumerate(train_iter):
            timer.start()
            optimizer.zero_grad()
            X, y = X.to(device), y.to(device)
            y_hat = net(X)
            l = loss(y_hat, y)
            l.backward()
            optimizer.step()
            with torch.no_grad():
                metric.add(l * X.shape[0], accuracy(y_hat, y), X.shape[0])
            timer.stop()
            train_l = metric[0] / metric[2]
            train_acc = metric[1] / metric[2]
        epoch_seconds.append(time.perf_counter() - epoch_start)
        test_acc = evaluate_accuracy_gpu(net, test_iter)
    print(f'loss {train_l:.3f}, train acc {train_acc:.3f}, '
          f'test acc {test_acc:.3f}')
    print(f'{metric[2] * num_epochs / timer.sum():.1f} examples/sec '
          f'on {str(device)}')
    return dict(loss=train_l, train_acc=train_acc, test_acc=test_acc, examples=metric[2] * num_epochs,
                d2l_examples_per_sec=metric[2] * num_epochs / timer.sum(), epoch_seconds=epoch_seconds)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--epochs', type=int, default=10)
    parser.add_argument('--threads', type=int)
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--root', required=True, help="torchvision's root: root/FashionMNIST/raw holds the IDX files")
    parser.add_argument('--data', help='where the .gz files are, to fill root when it lacks them')
    parser.add_argument('--seed', type=int)
    parser.add_argument('--workers', type=int, default=4, help="DataLoader workers (d2l's get_dataloader_workers(): 4)")
    parser.add_argument('--loader', default='chapter', choices=['chapter', 'memory'],
                        help="chapter: d2l's loader (torchvision + ToTensor + --workers processes); memory: "
                             'the data converted once into a TensorDataset, no workers (PyTorch at its best here)')
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--lr', type=float, default=0.9)
    parser.add_argument('--prepare-only', action='store_true')
    args = parser.parse_args()

    prepare_raw(args.root, args.data)
    if args.prepare_only:
        return
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.seed is not None:
        torch.manual_seed(args.seed)
    device = try_gpu() if args.device == 'cuda' else torch.device('cpu')
    if args.device == 'cuda' and device.type != 'cuda':
        raise SystemExit(f'--device cuda, but this PyTorch ({torch.__version__}) sees no CUDA device; '
                         "Debian's python3-torch is CPU-only: run the runner with --python pointing at a CUDA build")

    net = torch.nn.Sequential(
        Reshape(),
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))

    t0 = time.perf_counter()
    if args.loader == 'memory':
        args.workers = 0
        train_iter, test_iter = load_data_in_memory(args.batch_size, root=args.root)
    else:
        train_iter, test_iter = load_data_fashion_mnist(args.batch_size, root=args.root, workers=args.workers)
    load_seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    result = train_ch6(net, train_iter, test_iter, args.epochs, args.lr, device)
    train_ch6_seconds = time.perf_counter() - t1

    train_seconds = sum(result['epoch_seconds'])
    examples = len(train_iter.dataset) * args.epochs
    print(json.dumps({
        'peer': 'pytorch-best' if args.loader == 'memory' else 'pytorch',
        'loader': args.loader,
        'examples_per_sec': examples / train_seconds,
        'd2l_examples_per_sec': result['d2l_examples_per_sec'],
        'train_seconds': train_seconds,
        'epoch_seconds': result['epoch_seconds'],
        'train_ch6_seconds': train_ch6_seconds,
        'load_seconds': load_seconds,
        'wall_seconds': process_seconds(),
        # Linux gives ru_maxrss in KB; RUSAGE_CHILDREN is the largest finished child: a DataLoader worker (the
        # workers end with each pass over a loader, so by now they have all been reaped).
        'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        'peak_rss_children_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        'loss': result['loss'],
        'train_acc': result['train_acc'],
        'test_acc': result['test_acc'],
        'epochs': args.epochs,
        'examples': examples,
        'batch_size': args.batch_size,
        'lr': args.lr,
        'threads': torch.get_num_threads(),
        'workers': args.workers,
        'device': str(device),
        'versions': {
            'python': platform.python_version(),
            'torch': torch.__version__,
            'torchvision': torchvision.__version__,
        },
    }))


if __name__ == '__main__':
    main()
