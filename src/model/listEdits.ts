/**
 * A list made from an earlier one by a few edits, and the edits: whoever kept something worked out for every item
 * of the earlier list (the view's per-kind lists, a template's rendered blocks) updates it by the edits instead of
 * going over every item again. Lists are never changed once handed out; an unchanged list is the same array.
 */
export interface ListEdit<T> {
  /** Position in the list as it is after the edits before this one. */
  readonly at: number;
  /** One item taken out at `at` (before `inserted` goes in). */
  readonly removed?: T;
  /** One item put in at `at`. */
  readonly inserted?: T;
}

interface Derivation {
  /** Weak: a chain of lists must not keep every earlier list alive; a list gone is worked out again in full. */
  readonly from: WeakRef<readonly unknown[]>;
  readonly edits: readonly ListEdit<unknown>[];
}

const derivations = new WeakMap<readonly unknown[], Derivation>();

/** The list `list` was made from and its edits, if it was made by a ListEditor and that list is still held. */
export function derivationOf<T>(list: readonly T[]): { from: readonly T[]; edits: readonly ListEdit<T>[] } | undefined {
  const d = derivations.get(list);
  const from = d?.from.deref();
  return d && from ? { from: from as readonly T[], edits: d.edits as readonly ListEdit<T>[] } : undefined;
}

/** Edits a copy of `from` (made at the first edit) and records how the result was made from it. */
export class ListEditor<T> {
  #list: T[] | undefined;
  readonly #edits: ListEdit<T>[] = [];

  constructor(private readonly from: readonly T[]) {}

  get length(): number {
    return (this.#list ?? this.from).length;
  }

  at(index: number): T | undefined {
    return (this.#list ?? this.from)[index];
  }

  remove(at: number): void {
    const list = (this.#list ??= this.from.slice());
    const [removed] = list.splice(at, 1);
    this.#edits.push({ at, removed });
  }

  insert(at: number, item: T): void {
    const list = (this.#list ??= this.from.slice());
    list.splice(at, 0, item);
    this.#edits.push({ at, inserted: item });
  }

  /** The edited list (`from` itself when nothing changed). */
  done(): readonly T[] {
    const list = this.#list;
    if (!list) return this.from;
    derivations.set(list, { from: new WeakRef(this.from), edits: this.#edits });
    return list;
  }
}

/** Where `item` is, or goes, in `list` sorted by `compare`. */
export function sortedPosition<T>(
  list: { at(i: number): T | undefined; readonly length: number },
  item: T,
  compare: (a: T, b: T) => number,
): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compare(list.at(mid)!, item) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}
