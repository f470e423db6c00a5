import { inspectCustom } from './format';
import { checkArgCount, invalidType, invalidValue } from './validate';

export type DeviceType = 'cpu' | 'cuda';

/**
 * Where a tensor lives, as `torch.device`: `String(torch.device('cuda:0'))` is `'cuda:0'`. Every API that takes a
 * device also takes the plain string.
 */
export class Device {
  /** 'cpu' or 'cuda'. */
  readonly type: DeviceType;
  /** The CUDA ordinal, or null when not given ('cuda' means the current device, 'cpu' has none). */
  readonly index: number | null;

  /** @internal use torch.device() */
  constructor(type: DeviceType, index: number | null) {
    this.type = type;
    this.index = index;
  }

  toString(): string {
    return this.index === null ? this.type : `${this.type}:${this.index}`;
  }

  [inspectCustom](): string {
    return this.index === null ? `device(type='${this.type}')` : `device(type='${this.type}', index=${this.index})`;
  }
}

export type DeviceLike = Device | string;

const DEVICE_PATTERN = /^(cpu|cuda)(?::(\d+))?$/;
/** The largest device index libtorch can name: c10::DeviceIndex is an int8_t. */
const MAX_INDEX = 127;
const EXPECTED = `a device: 'cpu', 'cuda', 'cuda:N' (N <= ${MAX_INDEX}) or a torch.device`;

/** Parses and checks a device argument; a TypeError for a wrong type, a RangeError for a bad string. */
export function parseDevice(name: string, value: unknown): Device {
  if (value instanceof Device) return value;
  if (typeof value !== 'string') throw invalidType(name, EXPECTED, value);
  const match = DEVICE_PATTERN.exec(value);
  const index = match?.[2] === undefined ? null : Number(match[2]);
  if (!match || (index !== null && index > MAX_INDEX)) throw invalidValue(name, EXPECTED, value);
  return new Device(match[1] as DeviceType, index);
}

/**
 * `torch.device('cuda:0')`, `torch.device('cuda', 0)`, `torch.device('cpu')`.
 * @throws RangeError for a device string other than cpu, cuda or cuda:N, or an index above 127 (libtorch's limit).
 */
export function device(type: DeviceLike, index?: number): Device {
  checkArgCount('device', arguments.length, 2);
  const parsed = parseDevice('type', type);
  if (index === undefined) return parsed;
  if (typeof index !== 'number') throw invalidType('index', `an integer in [0, ${MAX_INDEX}]`, index);
  if (!Number.isSafeInteger(index) || index < 0 || index > MAX_INDEX) {
    throw invalidValue('index', `an integer in [0, ${MAX_INDEX}]`, index);
  }
  if (parsed.index !== null) throw invalidValue('type', 'a device type without an index when index is given', type);
  if (parsed.type === 'cpu' && index !== 0) throw invalidValue('index', '0 for the cpu', index);
  return new Device(parsed.type, index);
}
