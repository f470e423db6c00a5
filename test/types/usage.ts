// Compiled (never run) by test/typings.test.ts: the public API type-checks as a user writes it, and misuse does not.
import { d2l, nn, optim, torch, Tensor, Size, Device, ValuesIndices } from '../../lib';

const X: Tensor = torch.rand([1, 1, 28, 28], { dtype: torch.float32 });
const shape: Size = X.shape;
const dims: number[] = shape;
const n: number = X.numel() + dims.length;
const dev: Device = torch.device('cuda:0');
const asString: string = String(dev);
const dtype: torch.Dtype = X.dtype;
const t2: Tensor = X.to('cpu').to(torch.float64).to({ device: dev, dtype: 'float32' });
const v: number | boolean = X.sum().item();
const list: unknown = X.tolist();
const maybeGrad: Tensor | null = X.grad;

const net = new nn.Sequential(
  new nn.Reshape(-1, 1, 28, 28),
  new nn.Conv2d(1, 6, { kernel_size: 5, padding: 2 }), new nn.Sigmoid(),
  new nn.AvgPool2d({ kernel_size: 2, stride: 2 }),
  new nn.Conv2d(6, 16, 5), new nn.Sigmoid(),
  new nn.AvgPool2d(2, 2),
  new nn.Flatten(),
  new nn.Linear(16 * 5 * 5, 120), new nn.Sigmoid(),
  new nn.Linear(120, 84), new nn.Sigmoid(),
  new nn.Linear(84, 10));
for (const layer of net) {
  const out: Tensor = layer.forward(X);
  void out;
}
const first: nn.Module = net[0];
const asModule: nn.Module = net; // Sequential extends Module
const rows: number = X.shape[0];
const weight: Tensor = (net[1] as nn.Conv2d).weight;
const bias: Tensor | null = (net[1] as nn.Conv2d).bias;
net.apply((m) => {
  if (m instanceof nn.Linear || m instanceof nn.Conv2d) nn.init.xavier_uniform_(m.weight);
});
const params: Tensor[] = net.parameters();
const optimizer = new optim.SGD(params, { lr: 0.9 });
optimizer.param_groups[0].lr = 0.1;
const loss = new nn.CrossEntropyLoss({ reduction: 'mean' });
const l: Tensor = loss.forward(net.forward(X), torch.tensor([1], { dtype: torch.int64 }));
l.backward();
optimizer.step();
optimizer.zero_grad();
const acc: number = torch.no_grad(() => 0.5);
const gpu: boolean = torch.cuda.is_available();
void [asModule, rows, n, asString, dtype, t2, v, list, maybeGrad, first, weight, bias, acc, gpu, d2l];

// Indexing and the tensor ops of issue 11.
const { Slice, None, Ellipsis } = torch.indexing;
const row: Tensor = X.index([0, Slice(1, None), Ellipsis, None]);
const one: Tensor = X.index(0).index_put_([X.index(0).gt(0.5)], 0).index_put_(Slice(), torch.zeros(1));
const idx: torch.TensorIndex[] = [0, true, null, '...', Slice(), torch.tensor([0], { dtype: torch.int64 })];
const top: ValuesIndices = X.flatten(1).topk(3, { largest: false });
const [topValues, topIndices] = X.flatten({ start_dim: 1 }).topk(2, -1, true, { sorted: false });
const typeName: string = X.type();
const asDouble: Tensor = X.type(torch.float64).type('torch.FloatTensor');
const joined: Tensor = torch.cat([X, X], { dim: 1 }).add(torch.stack([X, X]).sum(0));
const shaped: Tensor = X.squeeze().unsqueeze(0).permute(0, 2, 1).permute([0, 1, 2]).narrow(1, 0, 2).select(0, 0);
const math: Tensor = X.softmax(1).log_softmax(-1).pow(2).sqrt().clamp({ min: 0 }).clamp(null, 1).clamp(0, 1);
const masks: Tensor[] = [X.ne(0), X.gt(0), X.lt(0), X.ge(0), X.le(X), X.masked_fill(X.gt(0), 1), X.masked_select(X.gt(0)), X.argmin(1)];
const same: Tensor = X.clone().copy_(X).fill_(1).zero_().requires_grad_().requires_grad_(false);
void [row, one, idx, top, topValues, topIndices, typeName, asDouble, joined, shaped, math, masks, same];

// Saving and loading, as in PyTorch.
async function checkpoint(): Promise<void> {
  const sd: nn.StateDict = net.state_dict();
  await torch.save(sd, 'lenet.pt');
  const result: nn.IncompatibleKeys = net.load_state_dict(await torch.load('lenet.pt'));
  net.load_state_dict(await torch.load('lenet.pt', { map_location: 'cpu' }), { strict: false });
  const loaded = await torch.load<nn.StateDict>('lenet.pt', torch.device('cpu'));
  await torch.save({ epoch: 3, weights: loaded, history: [0.5, 0.25], note: null }, 'checkpoint.pt');
  const missing: string[] = result.missing_keys;
  void missing;
}
void checkpoint;

// TorchScript, as in PyTorch.
async function script(): Promise<void> {
  const model: torch.jit.ScriptModule = await torch.jit.load('resnet18.pt', { map_location: 'cpu' });
  const logits: Tensor = await torch.no_grad(() => model.forward(X));
  const other: unknown = await model.run_method('embed', X, 3, { k: 1 }, null);
  const traced = torch.jit.trace(net, X);
  traced.save('lenet.pt');
  torch.jit.save(traced, 'lenet.pt');
  const code: string = model.eval().code + model.graph;
  void [logits, other, code, model.training, model.state_dict(), traced.parameters()];
}
void script;

// Misuse that the types reject:
// @ts-expect-error kernel_size must be a number or a pair
new nn.Conv2d(1, 6, { kernel_size: 'five' });
// @ts-expect-error lr is required
new optim.SGD(params, {});
// @ts-expect-error dtype names are a closed set
torch.zeros([2], { dtype: 'float8' });
// @ts-expect-error reduction is 'mean' | 'sum' | 'none'
new nn.CrossEntropyLoss({ reduction: 'avg' });
// @ts-expect-error shape is read-only data, not a method
X.shape();
// @ts-expect-error a dimension is a number, not a method
X.shape[0]();
// @ts-expect-error the native handle is internal
new Tensor();
// @ts-expect-error torch.save takes tensors and plain data, not functions
void torch.save({ f: () => 1 }, 'x.pt');
// @ts-expect-error trace takes an nn.Module
torch.jit.trace((x: Tensor) => x, X);
// @ts-expect-error a ScriptModule is made by torch.jit.load or torch.jit.trace
void new torch.jit.ScriptModule();
// @ts-expect-error Python's slice syntax is Slice(), not a string
X.index(['1:']);
// @ts-expect-error index() takes no options object
X.index([0], {});
// @ts-expect-error clamp's bounds are numbers
X.clamp({ min: '0' });
// @ts-expect-error cat takes an array of tensors
torch.cat(X, X);
// @ts-expect-error a state dict maps names to tensors
net.load_state_dict({ '1.weight': [1, 2] });
