/**
 * Where KeyspaceMirror's connection stands, in the manner of etcd3's WatchManager: every move goes through
 * `MirrorPhase.enter`, which refuses a move this table does not list (a late callback of a stream already given
 * up, say). idle → reading (the first read, retried; back to idle if refused) → connecting (watches from now) →
 * catching-up (a read, when etcd moved past the keyspace) → watching; a lost stream → waiting (backoff) →
 * connecting; a re-read (SIGHUP, rollback, re-scope) → connecting, with the read owed.
 */
export type Phase = 'idle' | 'reading' | 'connecting' | 'catching-up' | 'watching' | 'waiting' | 'closed';

const MOVES: Readonly<Record<Phase, readonly Phase[]>> = {
  idle: ['reading', 'closed'],
  reading: ['connecting', 'idle', 'closed'],
  connecting: ['catching-up', 'watching', 'connecting', 'waiting', 'closed'],
  'catching-up': ['watching', 'connecting', 'waiting', 'closed'],
  watching: ['connecting', 'waiting', 'closed'],
  waiting: ['connecting', 'closed'],
  closed: [],
};

export class MirrorPhase {
  #phase: Phase = 'idle';

  get current(): Phase {
    return this.#phase;
  }

  /** Moves to `next` if the table allows it from the current phase; false (and no move) otherwise. */
  enter(next: Phase): boolean {
    if (!MOVES[this.#phase].includes(next)) return false;
    this.#phase = next;
    return true;
  }
}
