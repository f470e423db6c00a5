// The chapter's LeNet, built as its PyTorch tab builds it; shared by the tests.
import { nn } from '../lib';

export function lenet(): nn.Sequential {
  return new nn.Sequential(
    new nn.Reshape(-1, 1, 28, 28),
    new nn.Conv2d(1, 6, { kernel_size: 5, padding: 2 }), new nn.Sigmoid(),
    new nn.AvgPool2d({ kernel_size: 2, stride: 2 }),
    new nn.Conv2d(6, 16, { kernel_size: 5 }), new nn.Sigmoid(),
    new nn.AvgPool2d({ kernel_size: 2, stride: 2 }),
    new nn.Flatten(),
    new nn.Linear(16 * 5 * 5, 120), new nn.Sigmoid(),
    new nn.Linear(120, 84), new nn.Sigmoid(),
    new nn.Linear(84, 10));
}

// LeNet with ReLU: the chapter's sigmoid net sits on a plateau for its first ~250 steps, too long for a unit test.
export function reluLenet(): nn.Sequential {
  return new nn.Sequential(
    new nn.Reshape(-1, 1, 28, 28),
    new nn.Conv2d(1, 6, { kernel_size: 5, padding: 2 }), new nn.ReLU(),
    new nn.AvgPool2d({ kernel_size: 2, stride: 2 }),
    new nn.Conv2d(6, 16, { kernel_size: 5 }), new nn.ReLU(),
    new nn.AvgPool2d({ kernel_size: 2, stride: 2 }),
    new nn.Flatten(),
    new nn.Linear(16 * 5 * 5, 120), new nn.ReLU(),
    new nn.Linear(120, 84), new nn.ReLU(),
    new nn.Linear(84, 10));
}
