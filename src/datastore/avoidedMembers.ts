/** A member found stale is tried last for this long. */
const STALE_MS = 60_000;
/** A member whose stream failed (down, refusing) is tried last for this long: the next attempt goes elsewhere. */
const FAILED_MS = 10_000;

/** The etcd members (host:port) a new watch stream tries last, each until its time is up. */
export class AvoidedMembers {
  readonly #until = new Map<string, number>();

  constructor(private readonly now: () => number) {}

  add(endpoint: string | undefined, why: 'stale' | 'failed'): void {
    if (endpoint) this.#until.set(endpoint, this.now() + (why === 'stale' ? STALE_MS : FAILED_MS));
  }

  /** The members still to be tried last. */
  current(): ReadonlySet<string> {
    const now = this.now();
    for (const [endpoint, until] of this.#until) if (until <= now) this.#until.delete(endpoint);
    return new Set(this.#until.keys());
  }
}
