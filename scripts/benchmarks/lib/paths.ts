/** Where the benchmarks find the repository, the built birdwatch and their own entry point. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root (this file is scripts/benchmarks/lib/paths.ts), with a trailing slash. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The built code, as shipped (scripts/setup and `npm run build` make it). */
export const DIST = join(ROOT, 'dist');
/**
 * The CLI the bench runs: this checkout's build, or another's (`BENCH_BIRDWATCH=…/dist/cli/main.js`, for a
 * before/after pair).
 */
export const BIRDWATCH_MAIN = process.env['BENCH_BIRDWATCH'] ?? join(DIST, 'cli', 'main.js');
/** What `scripts/bench` runs: the report, or one suite alone (`scripts/bench SUITE …`). */
export const BENCH_ENTRY = join(ROOT, 'scripts', 'benchmarks', 'main.ts');
