import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateBirdConfig } from '../../src/bird/validateConfig.js';

/**
 * Writes a file set into a temp dir and runs the real `bird -p` and `bird6 -p` on it. Debian's BIRD does not
 * know Calico's krt_tunnel attribute; with `declareKrtTunnel` the calico_ipip filter gets a local variable of
 * that name, so the rest of a krt-tunnel rendering is still checked by the real parser.
 */
export async function birdAccepts(
  files: ReadonlyMap<string, string>,
  options: { declareKrtTunnel?: boolean } = {},
): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'birdwatch-check-'));
  try {
    for (const [name, content] of files) {
      const text =
        options.declareKrtTunnel && name === 'bird_ipam.cfg'
          ? content.replace(/^filter calico_ipip \{$/m, 'filter calico_ipip string krt_tunnel; {')
          : content;
      writeFileSync(join(dir, name), text);
    }
    const errors: string[] = [];
    for (const daemon of ['bird', 'bird6'] as const) {
      const result = await validateBirdConfig({ binary: daemon, configPath: join(dir, `${daemon}.cfg`) });
      if (!result.ok) errors.push(`${daemon}: ${result.raw}`);
    }
    return errors;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
