/**
 * Python's pickle, the part that torch.save and torch.load use: a writer of protocol 2 (what torch.save writes by
 * default, and what every PyTorch since 1.6 reads, with weights_only=True too) and a reader of the binary opcodes of
 * protocols 2 to 5. The reader builds plain data only: every global a file names goes through `find_class`, so
 * nothing in a file runs unless the caller maps it (torch.load maps the few a checkpoint needs, as PyTorch's
 * weights_only=True does).
 * @internal
 */

/** A Python tuple, for the writer (the reader gives arrays). */
export class Tuple {
  constructor(readonly items: readonly unknown[]) {}
}

/** A global by name, `module.name` (a class or function), for the writer. */
export class Global {
  constructor(readonly module: string, readonly name: string) {}
}

/** `callable(*args)`, for the writer: a REDUCE. */
export class Call {
  constructor(readonly callable: Global, readonly args: readonly unknown[]) {}
}

/** A persistent id, for the writer: what the reader's persistent_load(pid) returns stands here (torch's storages). */
export class Persistent {
  constructor(readonly pid: unknown) {}
}

/** A Python dict (or OrderedDict) being read; the reader turns it into a plain object or a Map at the end. */
export class Dict {
  readonly entries = new Map<unknown, unknown>();
}

// ---- writer ------------------------------------------------------------------------------------------------------

class Output {
  private buffer = Buffer.alloc(4096);
  private length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    const bigger = Buffer.alloc(Math.max(this.buffer.length * 2, this.length + n));
    this.buffer.copy(bigger, 0, 0, this.length);
    this.buffer = bigger;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buffer[this.length++] = b;
  }

  bytes(data: Uint8Array): void {
    this.reserve(data.length);
    this.buffer.set(data, this.length);
    this.length += data.length;
  }

  uint16(v: number): void {
    this.reserve(2);
    this.length = this.buffer.writeUInt16LE(v, this.length);
  }

  int32(v: number): void {
    this.reserve(4);
    this.length = this.buffer.writeInt32LE(v, this.length);
  }

  uint32(v: number): void {
    this.reserve(4);
    this.length = this.buffer.writeUInt32LE(v, this.length);
  }

  float64(v: number): void {
    this.reserve(8);
    this.length = this.buffer.writeDoubleBE(v, this.length);
  }

  result(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

// Python's encode_long: little-endian two's complement in as few bytes as hold the sign.
function encodeLong(n: bigint): Uint8Array {
  const out: number[] = [];
  if (n === 0n) return new Uint8Array(0);
  for (;;) {
    out.push(Number(n & 0xffn));
    n >>= 8n;
    const high = (out[out.length - 1] & 0x80) !== 0;
    if ((n === 0n && !high) || (n === -1n && high)) break;
  }
  return Uint8Array.from(out);
}

function writeInt(out: Output, v: bigint | number): void {
  const n = BigInt(v);
  if (n >= 0n && n < 0x100n) {
    out.byte(0x4b); // BININT1
    out.byte(Number(n));
  } else if (n >= 0n && n < 0x10000n) {
    out.byte(0x4d); // BININT2
    out.uint16(Number(n));
  } else if (n >= -0x80000000n && n < 0x80000000n) {
    out.byte(0x4a); // BININT
    out.int32(Number(n));
  } else {
    const bytes = encodeLong(n);
    if (bytes.length < 256) {
      out.byte(0x8a); // LONG1
      out.byte(bytes.length);
    } else {
      out.byte(0x8b); // LONG4
      out.int32(bytes.length);
    }
    out.bytes(bytes);
  }
}

function writeString(out: Output, s: string): void {
  const bytes = Buffer.from(s, 'utf8');
  out.byte(0x58); // BINUNICODE
  out.uint32(bytes.length);
  out.bytes(bytes);
}

// An opcode the writer emits once the values pushed before it on its to-do stack are written.
class Emit {
  constructor(readonly op: number) {}
}

/**
 * A protocol-2 pickle of `value`: null, booleans, numbers (a safe integer as a Python int, anything else as a
 * float), bigints (int), strings, arrays (list), Maps (dict, in insertion order), Tuple, Global, Call, Persistent.
 * `replace` maps any other object to one of those (torch.save's tensors). Written with a to-do stack, not by
 * recursion, so that any depth of nesting is written (Python's unpickler reads any depth too).
 */
export function dumps(value: unknown, replace: (v: unknown) => unknown = () => undefined): Uint8Array {
  const out = new Output();
  // Popped from the end: what is pushed last is written first, so items are pushed in reverse.
  const todo: unknown[] = [value];
  const pushReversed = (items: readonly unknown[]): void => {
    for (let i = items.length - 1; i >= 0; i--) todo.push(items[i]);
  };
  const pushTuple = (items: readonly unknown[]): void => {
    if (items.length === 0) {
      todo.push(new Emit(0x29)); // EMPTY_TUPLE
    } else if (items.length <= 3) {
      todo.push(new Emit([0x85, 0x86, 0x87][items.length - 1])); // TUPLE1..3
      pushReversed(items);
    } else {
      todo.push(new Emit(0x74)); // TUPLE
      pushReversed(items);
      todo.push(new Emit(0x28)); // MARK
    }
  };
  out.byte(0x80); // PROTO
  out.byte(2);
  while (todo.length > 0) {
    const v = todo.pop();
    if (v instanceof Emit) {
      out.byte(v.op);
    } else if (v === null) {
      out.byte(0x4e); // NONE
    } else if (typeof v === 'boolean') {
      out.byte(v ? 0x88 : 0x89); // NEWTRUE, NEWFALSE
    } else if (typeof v === 'number') {
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) {
        writeInt(out, v);
      } else {
        out.byte(0x47); // BINFLOAT
        out.float64(v);
      }
    } else if (typeof v === 'bigint') {
      writeInt(out, v);
    } else if (typeof v === 'string') {
      writeString(out, v);
    } else if (Array.isArray(v)) {
      out.byte(0x5d); // EMPTY_LIST
      if (v.length > 0) {
        out.byte(0x28); // MARK
        todo.push(new Emit(0x65)); // APPENDS
        pushReversed(v);
      }
    } else if (v instanceof Map) {
      out.byte(0x7d); // EMPTY_DICT
      if (v.size > 0) {
        out.byte(0x28); // MARK
        todo.push(new Emit(0x75)); // SETITEMS
        pushReversed([...v].flat(1));
      }
    } else if (v instanceof Tuple) {
      pushTuple(v.items);
    } else if (v instanceof Global) {
      out.byte(0x63); // GLOBAL
      out.bytes(Buffer.from(`${v.module}\n${v.name}\n`, 'utf8'));
    } else if (v instanceof Call) {
      todo.push(new Emit(0x52)); // REDUCE
      pushTuple(v.args);
      todo.push(v.callable);
    } else if (v instanceof Persistent) {
      todo.push(new Emit(0x51)); // BINPERSID
      todo.push(v.pid);
    } else {
      const replaced = replace(v);
      if (replaced === undefined) throw new TypeError(`pickle: cannot write ${typeof v}`);
      todo.push(replaced);
    }
  }
  out.byte(0x2e); // STOP
  return out.result();
}

// ---- reader ------------------------------------------------------------------------------------------------------

export interface LoadHooks {
  /** What a GLOBAL names: usually a function that REDUCE calls with the arguments. Throw to refuse it. */
  find_class(module: string, name: string): unknown;
  /** What a persistent id stands for. */
  persistent_load(pid: unknown): unknown;
}

class Input {
  pos = 0;
  constructor(private readonly data: Buffer) {}

  private need(n: number): number {
    const at = this.pos;
    if (n < 0 || at + n > this.data.length) throw new Error(`data.pkl ends early, at byte ${this.data.length}`);
    this.pos += n;
    return at;
  }

  byte(): number {
    return this.data[this.need(1)];
  }

  uint16(): number {
    return this.data.readUInt16LE(this.need(2));
  }

  int32(): number {
    return this.data.readInt32LE(this.need(4));
  }

  uint32(): number {
    return this.data.readUInt32LE(this.need(4));
  }

  uint64(): number {
    const v = this.data.readBigUInt64LE(this.need(8));
    if (v > BigInt(this.data.length)) throw new Error(`data.pkl ends early, at byte ${this.data.length}`);
    return Number(v);
  }

  float64(): number {
    return this.data.readDoubleBE(this.need(8));
  }

  bytes(n: number): Buffer {
    const at = this.need(n);
    return this.data.subarray(at, at + n);
  }

  line(): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0) throw new Error(`data.pkl ends early, at byte ${this.data.length}`);
    const s = this.data.toString('utf8', this.pos, end);
    this.pos = end + 1;
    return s;
  }
}

function decodeLong(bytes: Buffer): number | bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  if (bytes.length > 0 && (bytes[bytes.length - 1] & 0x80) !== 0) n -= 1n << BigInt(8 * bytes.length);
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

// Dicts become plain objects when every key is a string (a Map otherwise); one object stays one object. Without
// recursion, so that any depth of nesting is read: each container gets its finished form (arrays keep theirs) when
// first met, and a task that fills it in, run later from a stack.
function finish(root: unknown): unknown {
  const done = new Map<object, unknown>();
  const tasks: (() => void)[] = [];
  const visit = (value: unknown): unknown => {
    if (Array.isArray(value)) {
      if (!done.has(value)) {
        done.set(value, value);
        tasks.push(() => {
          for (let i = 0; i < value.length; i++) value[i] = visit(value[i]);
        });
      }
      return value;
    }
    if (!(value instanceof Dict)) return value;
    const seen = done.get(value);
    if (seen !== undefined) return seen;
    if ([...value.entries.keys()].every((k) => typeof k === 'string')) {
      const out: Record<string, unknown> = {};
      done.set(value, out);
      tasks.push(() => {
        for (const [key, item] of value.entries) {
          Object.defineProperty(out, key as string, { value: visit(item), enumerable: true, writable: true, configurable: true });
        }
      });
      return out;
    }
    const out = new Map<unknown, unknown>();
    done.set(value, out);
    tasks.push(() => {
      for (const [key, item] of value.entries) out.set(visit(key), visit(item));
    });
    return out;
  };
  const result = visit(root);
  while (tasks.length > 0) tasks.pop()!();
  return result;
}

/**
 * The value a pickle holds: None is null, tuples and lists are arrays, dicts are plain objects (Maps when a key is
 * not a string), ints are numbers (bigints beyond 2^53), bytes are Buffers.
 * @throws Error naming the byte for an opcode it does not read, and whatever the hooks throw.
 */
export function loads(data: Uint8Array, hooks: LoadHooks): unknown {
  const input = new Input(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();
  const pop = (): unknown => {
    if (stack.length === 0) throw new Error(`data.pkl is damaged: an empty stack at byte ${input.pos - 1}`);
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) throw new Error(`data.pkl is damaged: an empty stack at byte ${input.pos - 1}`);
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const previous = marks.pop();
    if (previous === undefined) throw new Error(`data.pkl is damaged: no MARK before byte ${input.pos - 1}`);
    stack = previous;
    return items;
  };
  const get = (i: number): unknown => {
    if (!memo.has(i)) throw new Error(`data.pkl is damaged: memo ${i} read before it was written`);
    return memo.get(i);
  };
  const list = (): unknown[] => {
    const l = top();
    if (!Array.isArray(l)) throw new Error(`data.pkl is damaged: APPEND to a non-list at byte ${input.pos - 1}`);
    return l;
  };
  const dict = (): Dict => {
    const d = top();
    if (!(d instanceof Dict)) throw new Error(`data.pkl is damaged: SETITEM on a non-dict at byte ${input.pos - 1}`);
    return d;
  };
  const setItems = (d: Dict, items: unknown[]): void => {
    if (items.length % 2 !== 0) throw new Error('data.pkl is damaged: a dict with a key and no value');
    for (let i = 0; i < items.length; i += 2) d.entries.set(items[i], items[i + 1]);
  };

  for (;;) {
    const at = input.pos;
    const op = input.byte();
    switch (op) {
      case 0x80: { // PROTO
        const version = input.byte();
        if (version > 5) throw new Error(`data.pkl uses pickle protocol ${version}; protocols 2 to 5 are read`);
        break;
      }
      case 0x95: // FRAME
        input.bytes(8);
        break;
      case 0x2e: // STOP
        return finish(pop());
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(input.int32());
        break;
      case 0x4b: // BININT1
        stack.push(input.byte());
        break;
      case 0x4d: // BININT2
        stack.push(input.uint16());
        break;
      case 0x8a: // LONG1
        stack.push(decodeLong(input.bytes(input.byte())));
        break;
      case 0x8b: // LONG4
        stack.push(decodeLong(input.bytes(input.int32())));
        break;
      case 0x47: // BINFLOAT
        stack.push(input.float64());
        break;
      case 0x58: // BINUNICODE
        stack.push(input.bytes(input.uint32()).toString('utf8'));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(input.bytes(input.byte()).toString('utf8'));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(input.bytes(input.uint64()).toString('utf8'));
        break;
      case 0x54: // BINSTRING (Python 2 str, read as torch.load does, as UTF-8)
        stack.push(input.bytes(input.int32()).toString('utf8'));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(input.bytes(input.byte()).toString('utf8'));
        break;
      case 0x42: // BINBYTES
        stack.push(Buffer.from(input.bytes(input.uint32())));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(Buffer.from(input.bytes(input.byte())));
        break;
      case 0x8e: // BINBYTES8
        stack.push(Buffer.from(input.bytes(input.uint64())));
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: { // LIST
        const items = popMark(); // before reading `stack`, which popMark() replaces
        stack.push(items);
        break;
      }
      case 0x61: { // APPEND
        const v = pop();
        list().push(v);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        list().push(...items);
        break;
      }
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x74: { // TUPLE
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Dict());
        break;
      case 0x64: { // DICT
        const d = new Dict();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        dict().entries.set(k, v);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(dict(), items);
        break;
      }
      case 0x71: // BINPUT
        memo.set(input.byte(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(input.uint32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        stack.push(get(input.byte()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(get(input.uint32()));
        break;
      case 0x63: { // GLOBAL
        const module = input.line();
        stack.push(hooks.find_class(module, input.line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw new Error(`data.pkl is damaged: STACK_GLOBAL without names at byte ${at}`);
        stack.push(hooks.find_class(module, name));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const callable = pop();
        if (typeof callable !== 'function' || !Array.isArray(args)) throw new Error(`data.pkl calls something that cannot be called, at byte ${at}`);
        stack.push(callable(...args));
        break;
      }
      case 0x62: { // BUILD
        pop(); // the state: an OrderedDict's attributes (state_dict()'s _metadata), which nothing here uses
        if (!(top() instanceof Dict)) throw new Error(`data.pkl sets the state of an object lenet-torch does not rebuild, at byte ${at}`);
        break;
      }
      case 0x51: // BINPERSID
        stack.push(hooks.persistent_load(pop()));
        break;
      default:
        throw new Error(`data.pkl holds pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at}, which lenet-torch does not read`);
    }
  }
}
