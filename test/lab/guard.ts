/**
 * Shared pieces of the apply-guard lab tests (README "The apply guard"): the guard flags every host runs with, a
 * custom filter key, waiting for a line in a host's birdwatch log, and the ready probe asked inside the host's
 * namespace.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Test } from 'tap';
import { BIRDWATCH_MAIN, REPO_ROOT, type LabHost } from './lab.js';
import { waitUntil } from './observe.js';
import type { LogEvent } from '../../src/observe/logEvents.js';
import { linesOf } from '../support/logLines.js';

/**
 * A short settle window and margin so each scenario takes seconds: the lab's sessions restart within it (see
 * LAB_BGP_TIMERS), and the margin still leaves birdwatch seconds to confirm before BIRD's own timeout.
 */
const GUARD_ARGS = ['--guard-window', '5s', '--guard-margin', '4s'] as const;

/**
 * BGP timers for the lab's sessions. BIRD's defaults wait 60–300 s after a session error (a wrong AS) and 120 s
 * between connect attempts, so a session the guard reverted would take a minute to come back; the guard's
 * verdicts do not depend on these timers, only on the session states at the end of the window.
 */
const LAB_BGP_TIMERS = ['connect delay time 1;', 'connect retry time 2;', 'error wait time 1, 1;'] as const;

/** The shipped shared BGP template with LAB_BGP_TIMERS added to `template bgp bgp_template`. */
export function labBgpTemplate(): string {
  const shipped = readFileSync(join(REPO_ROOT, 'templates', 'partials', 'bgp.hbs'), 'utf8');
  const opening = 'template bgp bgp_template {\n';
  if (!shipped.includes(opening))
    throw new Error(`templates/partials/bgp.hbs: no "${opening.trim()}" to add timers to`);
  return shipped.replace(opening, `${opening}${LAB_BGP_TIMERS.map((line) => `  ${line}\n`).join('')}`);
}

/** The same for the BIRD 2/3 templates: `template bgp bgp_template_{{family.tag}}` (one per family). */
function labBgpTemplateBird2(): string {
  const shipped = readFileSync(join(REPO_ROOT, 'templates', 'bird2', 'partials', 'bgp.hbs'), 'utf8');
  const opening = 'template bgp bgp_template_{{family.tag}} {\n';
  if (!shipped.includes(opening))
    throw new Error(`templates/bird2/partials/bgp.hbs: no "${opening.trim()}" to add timers to`);
  return shipped.replace(opening, `${opening}${LAB_BGP_TIMERS.map((line) => `  ${line}\n`).join('')}`);
}

/**
 * Writes the lab's BGP timers into a `--templates` override directory for both dialects (`partials/bgp.hbs` for
 * BIRD 1.6, `bird2/partials/bgp.hbs` for BIRD 2/3; every other template is the shipped one).
 */
export function writeLabBgpTemplates(templatesDir: string): void {
  mkdirSync(join(templatesDir, 'partials'), { recursive: true });
  writeFileSync(join(templatesDir, 'partials', 'bgp.hbs'), labBgpTemplate());
  mkdirSync(join(templatesDir, 'bird2', 'partials'), { recursive: true });
  writeFileSync(join(templatesDir, 'bird2', 'partials', 'bgp.hbs'), labBgpTemplateBird2());
}

/**
 * A `--templates` override directory with the lab's timers (writeLabBgpTemplates); the guard's arguments with it.
 */
export function guardArgs(templatesDir: string): string[] {
  writeLabBgpTemplates(templatesDir);
  return [...GUARD_ARGS, '--templates', templatesDir];
}

export const customFilterKey = (name: string): string => `/calico/bgp/v1/global/custom_filters/v4/${name}`;

/** birdwatch's JSON log lines on the host (svlogd's `current`), parsed. */
export function birdwatchLog(host: LabHost): LogEntry[] {
  let text = '';
  try {
    text = readFileSync(host.logs.birdwatch, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').flatMap((line) => {
    const at = line.indexOf('{');
    if (at < 0) return [];
    try {
      return [JSON.parse(line.slice(at)) as LogEntry];
    } catch {
      return [];
    }
  });
}

/** A line of birdwatch's JSON log: its message and fields. */
export type LogEntry = { msg?: string; [field: string]: unknown };

/**
 * Waits until the host's birdwatch has logged `count` lines of `event` whose fields equal `fields` (the guard's lines:
 * src/observe/logEvents.ts); returns them, oldest first. The log holds every start's lines: counts are cumulative.
 */
export async function waitLogged(
  host: LabHost,
  event: LogEvent,
  count = 1,
  timeoutMs = 60_000,
  fields: Readonly<Record<string, unknown>> = {},
): Promise<LogEntry[]> {
  let lines: LogEntry[] = [];
  await waitUntil(
    `${host.name} birdwatch logs ${count}× ${event} ${JSON.stringify(fields)}`,
    async () => {
      lines = linesOf(birdwatchLog(host), event, fields);
      return { ok: lines.length >= count, seen: lines.map((l) => l.msg).join(' | ') || '(no such line yet)' };
    },
    { timeoutMs, intervalMs: 250 },
  );
  return lines;
}

/** `birdwatch check ready` inside the host's namespace (its ops endpoint is the namespace's 127.0.0.1:9179). */
async function checkReady(host: LabHost): Promise<{ ready: boolean; text: string }> {
  const r = await execa('ip', ['netns', 'exec', host.namespace, process.execPath, BIRDWATCH_MAIN, 'check', 'ready'], {
    reject: false,
  });
  return { ready: r.exitCode === 0, text: `${r.stdout}${r.stderr}` };
}

/** Waits until `check ready` says `ready` with a line matching `pattern`; returns its answer then. */
async function waitReady(
  host: LabHost,
  ready: boolean,
  pattern: RegExp,
  timeoutMs = 60_000,
): Promise<{ ready: boolean; text: string }> {
  let answer = { ready: !ready, text: '' };
  await waitUntil(
    `${host.name} check ready: ${ready ? 'ready' : 'not ready'} matching ${pattern}`,
    async () => {
      answer = await checkReady(host);
      return { ok: answer.ready === ready && pattern.test(answer.text), seen: answer.text };
    },
    { timeoutMs, intervalMs: 500 },
  );
  return answer;
}

/** Waits for `check ready` (waitReady), then asserts its answer: the exit status and the line. */
export async function expectReady(
  t: Test,
  host: LabHost,
  ready: boolean,
  pattern: RegExp,
  timeoutMs = 60_000,
): Promise<void> {
  const answer = await waitReady(host, ready, pattern, timeoutMs);
  t.match(answer, { ready, text: pattern }, `${host.name} check ready: ${ready ? 'ready' : 'not ready'}, ${pattern}`);
}
