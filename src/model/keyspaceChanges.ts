import type { Keyspace } from './keyspaceIndex.js';

/** Keys remembered since the oldest cursor a reader may still hold; past it, a reader starts again from nothing. */
const MAX_LOGGED = 8_192;

/**
 * The live keyspace map (the mirror's `entries`) that also remembers which keys its writes touched, so a reader
 * that renders from it now and then can ask what changed since its last look (`changesSince`) instead of
 * comparing every key. A write of the value a key already has is not a change.
 */
export class ChangeTrackedMap extends Map<string, string> {
  /** Writes so far: a reader's cursor. */
  #version = 0;
  /** The version the log starts after; `#log[i]` was written at version `#floor + i + 1`. */
  #floor = 0;
  #log: string[] = [];

  /** Empty: entries given to Map's constructor would reach `set` before this class's fields exist. */
  constructor() {
    super();
  }

  get version(): number {
    return this.#version;
  }

  override set(key: string, value: string): this {
    if (super.get(key) !== value) this.#record(key);
    return super.set(key, value);
  }

  override delete(key: string): boolean {
    const had = super.delete(key);
    if (had) this.#record(key);
    return had;
  }

  override clear(): void {
    super.clear();
    this.#version++;
    this.#floor = this.#version; // anyone holding an older cursor starts again
    this.#log = [];
  }

  /** The keys written since `version` (a cursor from `version`); undefined: too long ago, or never looked. */
  changesSince(version: number): ReadonlySet<string> | undefined {
    if (version < this.#floor || version > this.#version) return undefined;
    return new Set(this.#log.slice(version - this.#floor));
  }

  #record(key: string): void {
    this.#version++;
    if (this.#log.length >= MAX_LOGGED) {
      this.#floor = this.#version - 1;
      this.#log = [];
    }
    this.#log.push(key);
  }
}

/**
 * What changed in the keyspace a cycle renders — the live map without the quarantined keys, with the guard's held
 * entries at their earlier values (keyspaceWithout, keyspaceOverlay) — since the previous render: the live map's
 * changed keys, and every key whose quarantine or hold began, ended or changed value. Undefined when that cannot
 * be known (the first render, a map that does not track its writes, too many writes since): a full render.
 */
export class RenderedKeyspaceChanges {
  #base: ChangeTrackedMap | undefined;
  #version = -1;
  #excluded: ReadonlySet<string> = new Set();
  #overrides: ReadonlyMap<string, string | undefined> = new Map();

  take(
    base: Keyspace,
    excluded: ReadonlySet<string>,
    overrides: ReadonlyMap<string, string | undefined>,
  ): ReadonlySet<string> | undefined {
    const changed =
      base instanceof ChangeTrackedMap && base === this.#base ? base.changesSince(this.#version) : undefined;
    const result = changed && new Set(changed);
    if (result) {
      for (const key of excluded) if (!this.#excluded.has(key)) result.add(key);
      for (const key of this.#excluded) if (!excluded.has(key)) result.add(key);
      for (const [key, value] of overrides)
        if (!this.#overrides.has(key) || this.#overrides.get(key) !== value) result.add(key);
      for (const key of this.#overrides.keys()) if (!overrides.has(key)) result.add(key);
    }
    // Copies: the quarantine and the holds change their own sets in place.
    this.#base = base instanceof ChangeTrackedMap ? base : undefined;
    this.#version = this.#base?.version ?? -1;
    this.#excluded = new Set(excluded);
    this.#overrides = new Map(overrides);
    return result;
  }
}
