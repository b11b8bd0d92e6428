import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateBirdConfig } from '../../src/bird/validateConfig.js';

export interface BirdCheckFailure {
  readonly caseId: string;
  readonly errors: readonly string[];
  /** The rejected file set, kept for the report. */
  readonly files: ReadonlyMap<string, string>;
}

/**
 * Runs the real `bird -p` and `bird6 -p` on many file sets, `concurrency` at a time: each slot has its own
 * directory (files overwritten per case), bird and bird6 run in parallel per case. `submit` waits for a free
 * slot (back-pressure) and returns at once after starting the check; `drain` waits for every check.
 */
export class BirdBatch {
  readonly failures: BirdCheckFailure[] = [];
  checked = 0;
  readonly #free: string[];
  readonly #waiters: ((slot: string) => void)[] = [];
  readonly #running = new Set<Promise<void>>();

  constructor(
    private readonly root: string,
    concurrency: number,
  ) {
    this.#free = Array.from({ length: concurrency }, (_, i) => {
      const dir = join(root, `slot-${i}`);
      mkdirSync(dir, { recursive: true });
      return dir;
    });
  }

  async submit(
    caseId: string,
    files: ReadonlyMap<string, string>,
    options: { declareKrtTunnel?: boolean } = {},
  ): Promise<void> {
    const slot = this.#free.pop() ?? (await new Promise<string>((resolve) => this.#waiters.push(resolve)));
    const run = this.#check(slot, caseId, files, options).finally(() => {
      this.#running.delete(run);
      const waiter = this.#waiters.shift();
      if (waiter) waiter(slot);
      else this.#free.push(slot);
    });
    this.#running.add(run);
  }

  async drain(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }

  async #check(
    dir: string,
    caseId: string,
    files: ReadonlyMap<string, string>,
    options: { declareKrtTunnel?: boolean },
  ): Promise<void> {
    for (const [name, content] of files) {
      // Debian's BIRD has no krt_tunnel attribute: a local variable of that name lets the real parser check the rest.
      const text =
        options.declareKrtTunnel && name === 'bird_ipam.cfg'
          ? content.replace(/^filter calico_ipip \{$/m, 'filter calico_ipip string krt_tunnel; {')
          : content;
      writeFileSync(join(dir, name), text);
    }
    const results = await Promise.all(
      (['bird', 'bird6'] as const).map(async (daemon) => {
        const result = await validateBirdConfig({ binary: daemon, configPath: join(dir, `${daemon}.cfg`) });
        return result.ok ? undefined : `${daemon}: ${result.raw}`;
      }),
    );
    this.checked++;
    const errors = results.filter((e): e is string => e !== undefined);
    if (errors.length > 0) this.failures.push({ caseId, errors, files });
  }
}
