import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES_DIR = fileURLToPath(new URL('../../fixtures/', import.meta.url));

export interface Scenario {
  readonly name: string;
  readonly dir: string;
  readonly node: string;
  readonly keyspace: Map<string, string>;
}

/** Every fixtures/<scenario>/ that has an etcd.json and a node file. */
export function listScenarios(): string[] {
  return readdirSync(FIXTURES_DIR, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(FIXTURES_DIR, e.name, 'etcd.json')) && existsSync(join(FIXTURES_DIR, e.name, 'node')))
    .map((e) => e.name)
    .sort();
}

export function loadScenario(name: string): Scenario {
  const dir = join(FIXTURES_DIR, name);
  const keyspace = new Map(Object.entries(JSON.parse(readFileSync(join(dir, 'etcd.json'), 'utf8')) as Record<string, string>));
  return { name, dir, node: readFileSync(join(dir, 'node'), 'utf8').trim(), keyspace };
}

/** Scenarios whose node cannot be rendered at all; they have `expected/error.txt` instead of config files. */
export const hasExpectedError = (scenario: Scenario): boolean => existsSync(join(scenario.dir, 'expected', 'error.txt'));
