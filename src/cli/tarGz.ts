import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

/**
 * A write-only tar.gz of regular files: POSIX ustar headers (what GNU tar, bsdtar and busybox read) and Node's
 * zlib. Written here rather than taken from npm's `tar`: diags writes a handful of in-memory files once, and
 * ~60 lines cost less than a dependency tree (and its load time) for that; tests read the archives back with
 * the system's tar.
 */
export interface TarEntry {
  /** Path inside the archive, `/`-separated, relative. */
  readonly name: string;
  readonly content: string | Buffer;
  readonly mode?: number;
  /** Modification time, Unix seconds. */
  readonly mtime?: number;
}

const BLOCK = 512;

/** A tar name ≤ 100 bytes, or split at a `/` into a prefix ≤ 155 and a name ≤ 100 (ustar); else an error. */
function splitName(name: string): { prefix: string; name: string } {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', name };
  for (let i = name.lastIndexOf('/'); i > 0; i = name.lastIndexOf('/', i - 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100) return { prefix, name: rest };
  }
  throw new RangeError(`archive path too long for ustar: ${name}`);
}

function octal(value: number, length: number): string {
  return `${value.toString(8).padStart(length - 1, '0')}\0`;
}

function header(entry: TarEntry, size: number): Buffer {
  const block = Buffer.alloc(BLOCK, 0);
  const { prefix, name } = splitName(entry.name);
  const put = (text: string, offset: number, length: number): void => {
    block.write(text, offset, Math.min(length, Buffer.byteLength(text)), 'utf8');
  };
  put(name, 0, 100);
  put(octal(entry.mode ?? 0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(size, 12), 124, 12);
  put(octal(Math.floor(entry.mtime ?? Date.now() / 1000), 12), 136, 12);
  put('        ', 148, 8);
  put('0', 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  put('root', 265, 32);
  put('root', 297, 32);
  put(prefix, 345, 155);
  let sum = 0;
  for (const byte of block) sum += byte;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return block;
}

/** The uncompressed tar stream of `entries`. */
function tarBuffer(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const data = typeof entry.content === 'string' ? Buffer.from(entry.content, 'utf8') : entry.content;
    parts.push(header(entry, data.length), data);
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad > 0) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  return Buffer.concat(parts);
}

export async function tarGz(entries: readonly TarEntry[]): Promise<Buffer> {
  return promisify(gzip)(tarBuffer(entries));
}
