/**
 * Argument checks, one error helper. lib/ validates every argument and passes complete, typed values to the
 * native side, which trusts them. A wrong type is a TypeError, a bad value a RangeError; both name the argument.
 */

/** How a received value reads in an error message: `-1 (number)`, `'abc' (string)`, `[object Array]`. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  switch (typeof value) {
    case 'string':
      return `'${value.length > 40 ? `${value.slice(0, 40)}...` : value}' (string)`;
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${String(value)} (${typeof value})`;
    case 'function':
      return `a function (${(value as { name?: string }).name || 'anonymous'})`;
    default: {
      const name = (value as object).constructor?.name;
      if (Array.isArray(value)) return `an array of length ${value.length}`;
      return name ? `an instance of ${name}` : 'an object';
    }
  }
}

/** `TypeError: Expected kernel_size to be a positive integer but received 'a' (string)` */
export function invalidType(name: string, expected: string, value: unknown): TypeError {
  return new TypeError(`Expected ${name} to be ${expected} but received ${describe(value)}`);
}

/** `RangeError: Expected kernel_size to be a positive integer but received -1 (number)` */
export function invalidValue(name: string, expected: string, value: unknown): RangeError {
  return new RangeError(`Expected ${name} to be ${expected} but received ${describe(value)}`);
}

export interface IntRule {
  /** Smallest allowed value (inclusive). */
  min?: number;
  /** Words for the error message, e.g. 'a positive integer'. */
  expected?: string;
}

/** An integer: a TypeError if not a number, a RangeError if fractional, non-finite or below `min`. */
export function checkInt(name: string, value: unknown, rule: IntRule = {}): number {
  const min = rule.min ?? Number.NEGATIVE_INFINITY;
  const expected =
    rule.expected ?? (min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : 'an integer');
  if (typeof value !== 'number') throw invalidType(name, expected, value);
  if (!Number.isSafeInteger(value) || value < min) throw invalidValue(name, expected, value);
  return value;
}

/** An int or a pair of ints, as PyTorch's `_pair`: 5 -> [5, 5]. */
export function checkPair(name: string, value: unknown, rule: IntRule = {}): [number, number] {
  if (Array.isArray(value)) {
    const expected = `${rule.expected ?? 'an integer'} or a pair of them`;
    if (value.length !== 2) throw invalidValue(name, expected, value);
    return [checkInt(`${name}[0]`, value[0], rule), checkInt(`${name}[1]`, value[1], rule)];
  }
  const v = checkInt(name, value, rule);
  return [v, v];
}

export interface NumberRule {
  /** Exclusive lower bound. */
  gt?: number;
  /** Inclusive lower bound. */
  min?: number;
  /** Inclusive upper bound. */
  max?: number;
  expected?: string;
}

/** A finite number within the bounds: TypeError if not a number, RangeError if NaN, infinite or out of bounds. */
export function checkNumber(name: string, value: unknown, rule: NumberRule = {}): number {
  const expected =
    rule.expected ??
    (rule.gt !== undefined ? `a number greater than ${rule.gt}` : rule.min !== undefined ? `a number >= ${rule.min}` : 'a finite number');
  if (typeof value !== 'number') throw invalidType(name, expected, value);
  if (
    !Number.isFinite(value) ||
    (rule.gt !== undefined && !(value > rule.gt)) ||
    (rule.min !== undefined && value < rule.min) ||
    (rule.max !== undefined && value > rule.max)
  ) {
    throw invalidValue(name, expected, value);
  }
  return value;
}

export function checkBool(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalidType(name, 'a boolean', value);
  return value;
}

export function checkString<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  const expected = `one of ${allowed.map((a) => `'${a}'`).join(', ')}`;
  if (typeof value !== 'string') throw invalidType(name, expected, value);
  if (!(allowed as readonly string[]).includes(value)) throw invalidValue(name, expected, value);
  return value as T;
}

export function checkFunction<T extends (...args: never[]) => unknown>(name: string, value: unknown): T {
  if (typeof value !== 'function') throw invalidType(name, 'a function', value);
  return value as T;
}

/**
 * A TypeError naming `callee` when it is given more arguments than it takes, as Python's: no argument is ever
 * silently ignored. Public functions and methods call it first: `checkArgCount('Tensor.sum', arguments.length, 2)`.
 */
export function checkArgCount(callee: string, given: number, max: number): void {
  if (given > max) {
    throw new TypeError(`${callee}() takes ${max} argument${max === 1 ? '' : 's'} but ${given} ${given === 1 ? 'was' : 'were'} given`);
  }
}

/** A plain options object (or undefined): `{kernel_size: 5}`. */
export function isOptions(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  // A plain object from any realm: its prototype is null or some realm's Object.prototype.
  const proto = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

export function checkOptions(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isOptions(value)) throw invalidType(name, 'an options object', value);
  return value;
}

/**
 * Reads Python-style arguments: positional values in `names` order, then a trailing options object holding any of
 * them by name. Mirrors Python's errors: unexpected keyword, multiple values, missing required argument.
 */
export function parseArgs(
  callee: string,
  names: readonly string[],
  args: readonly unknown[],
  required = 0,
): Record<string, unknown> {
  let positional = args;
  let keywords: Record<string, unknown> = {};
  if (args.length > 0 && isOptions(args[args.length - 1])) {
    positional = args.slice(0, -1);
    keywords = args[args.length - 1] as Record<string, unknown>;
  }
  if (positional.length > names.length) {
    throw new TypeError(`${callee}() takes ${names.length} positional arguments but ${positional.length} were given`);
  }
  const result: Record<string, unknown> = {};
  positional.forEach((value, i) => {
    result[names[i]] = value;
  });
  for (const [key, value] of Object.entries(keywords)) {
    if (!names.includes(key)) throw new TypeError(`${callee}() got an unexpected keyword argument '${key}'`);
    if (key in result) throw new TypeError(`${callee}() got multiple values for argument '${key}'`);
    if (value !== undefined) result[key] = value;
  }
  for (const name of names.slice(0, required)) {
    if (result[name] === undefined) throw new TypeError(`${callee}() missing required argument '${name}'`);
  }
  return result;
}

/**
 * An async native failure, re-thrown with the stack of the call that started the work (sharp's way): `caller` is an
 * Error made at that call, before any await. With `message`, a new Error that says it, with the failure as its cause
 * (and its errno code).
 */
export function atCaller(error: unknown, caller: Error, message?: string): Error {
  let e: Error;
  if (message !== undefined) {
    e = new Error(message, { cause: error });
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === 'string') (e as Error & { code: string }).code = code;
  } else {
    // Duck-typed: a native failure is an Error of the main realm, which instanceof misses inside a vm context (jest).
    e = typeof error === 'object' && error !== null && typeof (error as Error).message === 'string' ? (error as Error) : new Error(String(error));
  }
  e.stack = `${e.name}: ${e.message}\n${(caller.stack ?? '').split('\n').slice(1).join('\n')}`;
  return e;
}
