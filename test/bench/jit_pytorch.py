"""The Python side of test/bench/jit.js.

    python3 test/bench/jit_pytorch.py export FILE          torchvision's resnet18 (weights=None, seed 0, eval),
                                                           traced by torch.jit.trace, saved to FILE
    python3 test/bench/jit_pytorch.py serve FILE BATCH REQUESTS CONCURRENCY THREADS
                                                           REQUESTS calls of the loaded module on a random batch,
                                                           CONCURRENCY at a time from a thread pool of that size
                                                           (TorchScript releases the GIL while it runs), with
                                                           torch.set_num_threads(THREADS); one JSON line: requests/sec,
                                                           p50 and p99 latency in ms
"""
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import torch


def export(path):
    import torchvision
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None).eval()
    with torch.no_grad():
        torch.jit.trace(net, torch.randn(1, 3, 224, 224)).save(path)


def percentile(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]


def serve(path, batch, requests, concurrency, threads):
    torch.set_num_threads(threads)
    model = torch.jit.load(path, map_location="cpu")
    x = torch.randn(batch, 3, 224, 224)

    def call(_):
        start = time.perf_counter()
        with torch.no_grad():
            model(x)
        return (time.perf_counter() - start) * 1000

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(call, range(concurrency)))  # warm-up: one call per thread
        start = time.perf_counter()
        latencies = sorted(pool.map(call, range(requests)))
        seconds = time.perf_counter() - start
    print(json.dumps({"rps": requests / seconds, "p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
                      "torch": torch.__version__}))


if __name__ == "__main__":
    if sys.argv[1] == "export":
        export(sys.argv[2])
    elif sys.argv[1] == "serve":
        serve(sys.argv[2], *map(int, sys.argv[3:7]))
    else:
        sys.exit(__doc__)
