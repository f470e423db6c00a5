"""Reference outputs of PyTorch's own modules for test/modules.test.ts: for each case, the module's initial state
dict, an input, the train-mode outputs of two forward calls (with the state after them: running statistics,
num_batches_tracked), the gradient of the input and of each parameter, and the eval-mode output. One torch.save'd
dict of tensors (keys '<case>/<what>'), written to argv[1]."""
import sys
import torch
from torch import nn

torch.manual_seed(0)
CASES = {
    'bn2d': (lambda: nn.BatchNorm2d(3), [4, 3, 5, 5]),
    'bn2d_momentum_none': (lambda: nn.BatchNorm2d(3, momentum=None), [2, 3, 4, 4]),
    'bn2d_no_affine': (lambda: nn.BatchNorm2d(3, eps=1e-3, affine=False), [2, 3, 4, 4]),
    'bn2d_no_stats': (lambda: nn.BatchNorm2d(3, track_running_stats=False), [2, 3, 4, 4]),
    'bn1d': (lambda: nn.BatchNorm1d(6, momentum=0.3), [4, 6]),
    'bn1d_3d': (lambda: nn.BatchNorm1d(6), [4, 6, 3]),
    'adaptive_1': (lambda: nn.AdaptiveAvgPool2d((1, 1)), [2, 3, 7, 5]),
    'adaptive_2x3': (lambda: nn.AdaptiveAvgPool2d((2, 3)), [2, 3, 7, 5]),
    'dropout_0': (lambda: nn.Dropout(0), [3, 4]),
    'maxpool_pad': (lambda: nn.MaxPool2d(3, stride=2, padding=1), [2, 3, 7, 7]),
}

out = {}
for name, (make, shape) in CASES.items():
    m = make()
    for p in m.parameters():  # not the default ones and zeros, so that a swapped weight and bias shows
        with torch.no_grad():
            p.copy_(torch.randn(p.shape))
    for k, v in m.state_dict().items():
        out[f'{name}/state/{k}'] = v.clone()
    X = torch.randn(shape)
    out[f'{name}/X'] = X
    m.train()
    for step in range(2):
        x = (X * (step + 1)).requires_grad_()
        y = m(x)
        (y * torch.arange(y.numel()).reshape(y.shape).float().sin()).sum().backward()
        out[f'{name}/train{step}'] = y.detach()
        out[f'{name}/xgrad{step}'] = x.grad
    for k, v in m.named_parameters():
        out[f'{name}/grad/{k}'] = v.grad
    for k, v in m.state_dict().items():
        out[f'{name}/after/{k}'] = v.clone()
    m.eval()
    with torch.no_grad():
        out[f'{name}/eval'] = m(X)
torch.save(out, sys.argv[1])
