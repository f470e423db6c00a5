// A child process for test/distributed.test.ts: a hold keys a net by the addresses of its modules and parameter
// storages. Nets are handed to a hold (DistributedDataParallel's start, queued behind a busy thread pool of one) and
// their last JS handles dropped; garbage collection (finalizers run inside it) frees what only those handles kept.
// New modules of the same kind then come, likely at a freed address: none may be refused as held. Prints one JSON
// line: {tried, refused, message}.
//   UV_THREADPOOL_SIZE=1 node --expose-gc hold-reuse.js PORT
'use strict';
const crypto = require('node:crypto');
const path = require('node:path');
const { torch, nn } = require(path.join(__dirname, '..', '..'));

(async () => {
  await torch.distributed.init_process_group('gloo', { init_method: `tcp://127.0.0.1:${process.argv[2]}`, rank: 0, world_size: 1, timeout: 10 });
  let tried = 0, refused = 0, message = '';
  for (let round = 0; round < 5; round++) {
    const busy = new Promise((resolve) => crypto.pbkdf2('x', 'y', 300000, 64, 'sha512', resolve));
    const held = [];
    for (let i = 0; i < 20; i++) held.push(new nn.parallel.DistributedDataParallel(new nn.Linear(2, 2))._broadcast_parameters('held'));
    global.gc();
    for (let i = 0; i < 200; i++) {
      tried++;
      try {
        const m = new nn.Linear(2, 2);
        m.forward(torch.ones(1, 2));
        m.weight.dispose();
      } catch (e) {
        refused++;
        message = e.message;
      }
    }
    await busy;
    await Promise.all(held);
  }
  torch.distributed.destroy_process_group();
  console.log(JSON.stringify({ tried, refused, message }));
})();
