/** Types the generated operator signatures share (lib/ops/generated.ts). */
import { inspectCustom } from '../format';

/** A tensor layout, as PyTorch's torch.strided, torch.sparse_coo, ... without the prefix. */
export type Layout = 'strided' | 'sparse_coo' | 'sparse_csr';

/** A memory format, as PyTorch's torch.contiguous_format, torch.channels_last, ... without the prefix. */
export type MemoryFormat = 'contiguous_format' | 'preserve_format' | 'channels_last' | 'channels_last_3d';

/**
 * What an operator with named results returns, as Python's named tuples (torch.return_types.max): the fields by
 * name, and iterable in order, so both `const { values, indices } = t.max(1)` and `const [v, i] = t.max(1)` work.
 */
export type NamedTuple<T extends Record<string, unknown>> = T & Iterable<T[keyof T]>;

/** The class behind NamedTuple: one object per result, its fields in the operator's order. */
export class ReturnTuple implements Iterable<unknown> {
  readonly #op: string;
  readonly #fields: readonly string[];

  /** @internal made by the operator call */
  constructor(op: string, fields: Record<string, unknown>) {
    this.#op = op;
    this.#fields = Object.keys(fields);
    Object.assign(this, fields);
  }

  *[Symbol.iterator](): Iterator<unknown> {
    for (const f of this.#fields) yield (this as unknown as Record<string, unknown>)[f];
  }

  toString(): string {
    const record = this as unknown as Record<string, unknown>;
    return `torch.return_types.${this.#op}(\n${this.#fields.map((f) => `${f}=${String(record[f])}`).join(',\n')})`;
  }

  [inspectCustom](): string {
    return this.toString();
  }
}
