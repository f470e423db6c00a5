#!/usr/bin/env node
// The chapter's exercise 4: "Display the activations of the first and second layer of LeNet for different inputs
// (e.g., sweaters and coats)." `npm run exercise4` trains the chapter's net as the chapter does (10 epochs, seconds
// on 2 CPU cores) or loads a state dict saved by torch.save(net.state_dict(), ...) from Node or PyTorch, then draws
// into one PNG, for the first pullover and the first coat of the test set (labels 2 and 4): the input, the 6 maps of
// layer 1 (Conv2d + Sigmoid, 28x28) and the 16 maps of layer 2 (Conv2d + Sigmoid, 10x10), each scaled to black..white
// on its own.
// Options: --epochs N (default 10, the chapter's), --lr X (0.9), --state FILE (skip training), --out FILE (docs/exercise4.png),
// --device D (try_gpu()).
'use strict';
const { parseArgs } = require('node:util');
const { PNG } = require('pngjs');
const { torch, d2l } = require('lenet-torch');
// The chapter's net, as scripts/lenet.js builds it (shared with the benchmarks).
const { lenet } = require('../test/bench/chapter');

const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '10' },
    lr: { type: 'string', default: '0.9' },
    state: { type: 'string' },
    out: { type: 'string', default: 'docs/exercise4.png' },
    device: { type: 'string' },
  },
});

/** Stacks PNGs (grayscale, as show_images writes them) top to bottom on white. */
function stack(buffers) {
  const pngs = buffers.map((b) => PNG.sync.read(b));
  const width = Math.max(...pngs.map((p) => p.width));
  const height = pngs.reduce((h, p) => h + p.height, 0);
  const out = new PNG({ width, height, colorType: 0, inputColorType: 0, bitDepth: 8 });
  out.data = Buffer.alloc(width * height, 255);
  let top = 0;
  for (const p of pngs) {
    for (let y = 0; y < p.height; y++) {
      for (let x = 0; x < p.width; x++) out.data[(top + y) * width + x] = p.data[(y * p.width + x) * 4];
    }
    top += p.height;
  }
  return PNG.sync.write(out, { colorType: 0, inputColorType: 0 });
}

async function main() {
  torch.manual_seed(0);
  const net = lenet();

  const [train_iter, test_iter] = await d2l.load_data_fashion_mnist(256);
  if (values.state) {
    net.load_state_dict(await torch.load(values.state));
  } else {
    const lr = Number(values.lr), num_epochs = Number(values.epochs);
    await d2l.train_ch6(net, train_iter, test_iter, num_epochs, lr, values.device ?? d2l.try_gpu(), {});
  }

  // The first pullover and the first coat of the test set.
  const [X, y] = test_iter[Symbol.iterator]().next().value;
  const labels = y.tolist();
  const picks = [['pull', labels.indexOf(2)], ['coat', labels.indexOf(4)]];
  const layers = [...net];
  const device = net.parameters()[0].device;
  const rows = { input: [], layer1: [], layer2: [] };
  for (const [name, i] of picks) {
    const x = X.index_select(0, torch.tensor([i], { dtype: torch.int64 })).to(device);
    // Layers 0-2: Reshape, Conv2d, Sigmoid; 3-5: AvgPool2d, Conv2d, Sigmoid.
    const [a1, a2] = torch.no_grad(() => {
      let h = x;
      for (const layer of layers.slice(0, 3)) h = layer.forward(h);
      let g = h;
      for (const layer of layers.slice(3, 6)) g = layer.forward(g);
      return [h, g];
    });
    rows.input.push([x.reshape(1, 28, 28), name === 'pull' ? 'pullover' : 'coat']);
    rows.layer1.push([a1.reshape(6, 28, 28), name]);
    rows.layer2.push([a2.reshape(16, 10, 10), name]);
  }
  const gather = (entries, layer) => {
    const imgs = entries.flatMap(([t]) => Array.from({ length: t.shape[0] }, (_, k) => t.index_select(0, torch.tensor([k], { dtype: torch.int64 })).reshape(t.shape[1], t.shape[2]).tolist()));
    const titles = entries.flatMap(([t, name]) => Array.from({ length: t.shape[0] }, (_, k) => `${name} ${layer}:${k}`));
    return [torch.tensor(imgs), titles];
  };
  // Row by row: each input, then its 6 layer-1 maps (7 columns); then the 16 layer-2 maps of each (2 rows of 8).
  const first = [];
  const firstTitles = [];
  for (let p = 0; p < 2; p++) {
    first.push(rows.input[p][0].tolist()[0], ...rows.layer1[p][0].tolist());
    firstTitles.push(rows.input[p][1], ...Array.from({ length: 6 }, (_, k) => `${rows.layer1[p][1]} c1:${k}`));
  }
  const [second, secondTitles] = gather(rows.layer2, 'c2');
  const opts = { scale: 1.3 }; // 130-pixel cells: room for 10-character titles
  const top = await d2l.show_images(torch.tensor(first), 2, 7, { ...opts, titles: firstTitles });
  const bottom = await d2l.show_images(second, 4, 8, { ...opts, titles: secondTitles });
  const fs = require('node:fs');
  const path = require('node:path');
  fs.mkdirSync(path.dirname(values.out), { recursive: true });
  fs.writeFileSync(values.out, stack([top, bottom]));
  console.log(`activations of layers 1 and 2 for a pullover (test image ${picks[0][1]}) and a coat (${picks[1][1]}) written to ${values.out}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
