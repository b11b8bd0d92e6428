import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES_DIR = fileURLToPath(new URL('../../fixtures/', import.meta.url));

export interface Scenario {
  readonly name: string;
  readonly dir: string;
  /**
   * The CLI arguments that select what is rendered: `--node N`, or the reflector's `--role route-reflector --ip A …`.
   */
  readonly roleArgs: readonly string[];
  readonly keyspace: Map<string, string>;
}

interface ReflectorFixture {
  readonly ip: string;
  readonly ip6?: string;
  readonly as?: string;
}

/** Every fixtures/<scenario>/ that has an etcd.json and a `node` (or `reflector.json`) file. */
export function listScenarios(): string[] {
  return readdirSync(FIXTURES_DIR, { withFileTypes: true })
    .filter(
      (e) =>
        e.isDirectory() &&
        existsSync(join(FIXTURES_DIR, e.name, 'etcd.json')) &&
        (existsSync(join(FIXTURES_DIR, e.name, 'node')) || existsSync(join(FIXTURES_DIR, e.name, 'reflector.json'))),
    )
    .map((e) => e.name)
    .sort();
}

export function loadScenario(name: string): Scenario {
  const dir = join(FIXTURES_DIR, name);
  const keyspace = new Map(
    Object.entries(JSON.parse(readFileSync(join(dir, 'etcd.json'), 'utf8')) as Record<string, string>),
  );
  if (existsSync(join(dir, 'node')))
    return { name, dir, roleArgs: ['--node', readFileSync(join(dir, 'node'), 'utf8').trim()], keyspace };
  const rr = JSON.parse(readFileSync(join(dir, 'reflector.json'), 'utf8')) as ReflectorFixture;
  const roleArgs = [
    '--role',
    'route-reflector',
    '--ip',
    rr.ip,
    ...(rr.ip6 ? ['--ip6', rr.ip6] : []),
    ...(rr.as ? ['--as', rr.as] : []),
  ];
  return { name, dir, roleArgs, keyspace };
}

/** Scenarios whose node cannot be rendered at all; they have `expected/error.txt` instead of config files. */
export const hasExpectedError = (scenario: Scenario): boolean =>
  existsSync(join(scenario.dir, 'expected', 'error.txt'));
