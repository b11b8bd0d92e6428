/**
 * scripts/lab: a multi-host BIRD + birdwatch lab in network namespaces (see test/lab/lab.ts).
 *
 *   scripts/lab up [--hosts N] [--birds LIST] [--etcd 1|3] [--state DIR] [--prefix P]
 *   scripts/lab status [--state DIR]
 *   scripts/lab down [--state DIR]
 */
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ProtocolEntry } from '../src/bird/showProtocols.js';
import { showProtocols } from '../src/bird/showProtocolsCommand.js';
import { execa } from 'execa';
import { downLab, startLab, DEFAULT_PREFIX, SERVICES } from '../test/lab/lab.js';
import { isRunning } from '../test/lab/procs.js';
import { readState } from '../test/lab/state.js';
import { errorMessage } from '../src/errorMessage.js';

const USAGE = `usage:
  scripts/lab up [--hosts N] [--birds LIST] [--etcd 1|3] [--state DIR] [--prefix P]
                                         start N hosts (default 3), registered in etcd; --birds: their BIRDs in turn,
                                         e.g. 1.6,2.0.12,3.3.2 (default 1.6: the system's; others: scripts/setup-bird's)
  scripts/lab status [--state DIR]                                     processes, runit services, BGP sessions
  scripts/lab down [--state DIR]                                       stop what up started, delete its namespaces
default --state: ${join(tmpdir(), 'birdwatch-lab')}`;

function fail(message: string, code = 2): never {
  process.stderr.write(`lab: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: {
        hosts: { type: 'string', default: '3' },
        birds: { type: 'string', default: '1.6' },
        etcd: { type: 'string', default: '1' },
        state: { type: 'string', default: join(tmpdir(), 'birdwatch-lab') },
        prefix: { type: 'string', default: DEFAULT_PREFIX },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
  } catch (e) {
    fail(`${errorMessage(e)}\n${USAGE}`);
  }
  const { values } = parsed;
  if (values.help === true || command === undefined || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const stateDir = resolve(values.state);
  switch (command) {
    case 'up': {
      const hosts = Number(values.hosts);
      if (!/^[1-9][0-9]*$/.test(values.hosts) || hosts > 200)
        fail(`--hosts ${JSON.stringify(values.hosts)}: expected 1-200`);
      if (values.etcd !== '1' && values.etcd !== '3') fail(`--etcd ${JSON.stringify(values.etcd)}: expected 1 or 3`);
      const birds = values.birds.split(',').map((b) => b.trim());
      for (const b of birds)
        if (!/^\d+\.\d+(\.\d+)?$/.test(b))
          fail(`--birds ${JSON.stringify(values.birds)}: expected versions such as 1.6,2.0.12,3.3.2`);
      const started = Date.now();
      const lab = await startLab({
        hosts: Array.from({ length: hosts }, (_, i) => {
          const bird = birds[i % birds.length]!;
          return { name: `h${i + 1}`, ...(bird.startsWith('1.') ? {} : { bird }) };
        }),
        etcdMembers: values.etcd === '3' ? 3 : 1,
        stateDir,
        prefix: values.prefix,
        log: (line) => process.stdout.write(`lab: ${line}\n`),
      });
      lab.detach();
      const lines = [
        `lab: up in ${((Date.now() - started) / 1000).toFixed(1)} s; state, configs, sockets and logs in ${stateDir}`,
        '',
        `  export ETCD_ENDPOINTS=${lab.etcd.endpoints.join(',')}`,
        '',
        ...lab.hosts.map(
          (h) =>
            `  ${h.name.padEnd(10)} ns ${h.namespace.padEnd(14)} ${h.ip4.padEnd(12)} ${h.ip6.padEnd(10)} BIRD ${h.bird.version.text.padEnd(7)} sockets ${h.daemons.map((d) => h.sockets[d]).join(' ')}`,
        ),
        '',
        `  look:  scripts/lab status --state ${stateDir}`,
        `         ip -n ${lab.hosts[0]?.namespace ?? ''} route show proto bird`,
        `  stop:  scripts/lab down --state ${stateDir}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
      return;
    }
    case 'down': {
      const report = await downLab(stateDir);
      process.stdout.write(
        `lab: down: stopped ${report.stopped} process(es)${report.killed.length > 0 ? ` (SIGKILL needed: ${report.killed.join(', ')})` : ''}, ` +
          `deleted ${report.namespacesDeleted.length} namespace(s)${report.namespacesDeleted.length > 0 ? `: ${report.namespacesDeleted.join(', ')}` : ''}\n`,
      );
      return;
    }
    case 'status': {
      const state = readState(stateDir);
      if (state === undefined) {
        process.stdout.write(`lab: no lab in ${stateDir}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(
        `lab: prefix ${state.prefix}, created ${state.createdAt}, etcd ${state.etcdEndpoints.join(',')}\n`,
      );
      for (const r of state.processes) {
        process.stdout.write(`  ${isRunning(r) ? 'running' : 'gone   '}  PID ${String(r.pid).padEnd(8)} ${r.label}\n`);
      }
      for (const h of state.hosts) {
        if (h.serviceDir !== undefined) {
          // runit's view of the host's services (run/down, PID, uptime), as `sv status` prints it.
          const sv = await execa('sv', ['status', ...SERVICES.map((s) => join(h.serviceDir ?? '', s))], {
            reject: false,
          });
          for (const line of `${sv.stdout}\n${sv.stderr}`.split('\n').filter((l) => l.trim() !== ''))
            process.stdout.write(`  ${h.name} ${line}\n`);
        }
        // BIRD 2/3 hosts: one daemon, both families on bird's socket.
        const sockets =
          h.bird === undefined || h.bird.startsWith('1.') ? [h.birdSocket, h.bird6Socket] : [h.birdSocket];
        for (const [i, socket] of sockets.entries()) {
          const family = sockets.length === 1 ? '4+6' : i === 0 ? 4 : 6;
          const summary = await showProtocols(socket, { timeoutMs: 2_000 }).then(
            (rows) =>
              rows
                .filter((r): r is ProtocolEntry => r.kind === 'protocol' && r.proto === 'BGP')
                .map((r) => `${r.name} ${r.bgpState ?? r.state}`)
                .join(', ') || '(no BGP protocols)',
            (e: Error) => `(not answering: ${e.message})`,
          );
          process.stdout.write(`  ${h.name} v${family}: ${summary}\n`);
        }
      }
      return;
    }
    default:
      fail(`unknown command ${JSON.stringify(command)}\n${USAGE}`);
  }
}

main().catch((e: unknown) => fail(errorMessage(e), 1));
