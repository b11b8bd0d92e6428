import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { SessionResult, SpeakerSession } from './bgpSpeakerChild.js';
import type { TeardownRegistrar } from '../harness/process.js';
import { killOnProcessExit, stopChild } from '../harness/process.js';

export type { SpeakerSession } from './bgpSpeakerChild.js';

const CHILD = fileURLToPath(new URL('./bgpSpeakerChild.ts', import.meta.url));

/** The test speaker (bgpSpeakerChild.ts) running in a namespace: one round of sessions at a time. */
export interface BgpSpeaker {
  round(sessions: readonly SpeakerSession[], timeoutMs: number): Promise<SessionResult[]>;
  stop(): Promise<void>;
}

export async function startBgpSpeaker(t: TeardownRegistrar, namespaceExec: readonly string[]): Promise<BgpSpeaker> {
  const [command = '', ...args] = [...namespaceExec, process.execPath, '--import', 'tsx', CHILD];
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  killOnProcessExit(child);
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  const waiting: ((line: string) => void)[] = [];
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => waiting.shift()?.(line));
  let queue: Promise<unknown> = Promise.resolve();
  const speaker: BgpSpeaker = {
    round(sessions, timeoutMs) {
      const next = queue.then(
        () =>
          new Promise<SessionResult[]>((resolve, reject) => {
            const onExit = (): void => reject(new Error(`BGP speaker exited: ${stderr}`));
            child.once('exit', onExit);
            waiting.push((line) => {
              child.off('exit', onExit);
              resolve((JSON.parse(line) as { results: SessionResult[] }).results);
            });
            child.stdin.write(`${JSON.stringify({ sessions, timeoutMs })}\n`);
          }),
      );
      queue = next.catch(() => undefined);
      return next;
    },
    async stop() {
      lines.close();
      child.stdin.end();
      await stopChild(child, 2_000);
    },
  };
  t.teardown(() => speaker.stop());
  return speaker;
}
