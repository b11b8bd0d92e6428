import type { Logger } from 'pino';
import { OperatorConflictError } from '../operator/errors.js';
import { listNodes, registerNode } from '../operator/nodes.js';
import type { OperatorStore } from '../operator/store.js';
import type { Etcd3 } from 'etcd3';
import { readEtcdSnapshot } from '../datastore/etcdSource.js';
import { EtcdWriter } from '../datastore/etcdWriter.js';
import type { HostAddresses } from './addressAutodetection.js';
import {
  addressArgument,
  networkOf,
  parseAddressSetting,
  parseAsSetting,
  resolveAddressSetting,
  type AddressSetting,
  type ResolvedAddress,
} from './nodeAddressOptions.js';
import { UsageError } from './usageError.js';
import { errorMessage } from '../errorMessage.js';
import type { LogEvent } from '../observe/logEvents.js';

type Env = Readonly<Record<string, string | undefined>>;

/** What `run --register` writes, decided from --ip/--ip6/--as, else IP/IP6/AS, before anything connects. */
export interface RegistrationPlan {
  readonly node: string;
  readonly ipv4: AddressSetting;
  readonly ipv6: AddressSetting;
  /** undefined: keep the node's AS override as it is. */
  readonly asNumber: number | undefined;
  readonly argument: { readonly 4: string; readonly 6: string };
}

export interface RegistrationFlags {
  readonly ip?: string;
  readonly ip6?: string;
  readonly as?: string;
}

/** Checks the settings (exit 2 on a bad one) without I/O. */
export function planRegistration(node: string, flags: RegistrationFlags, env: Env): RegistrationPlan {
  return {
    node,
    ipv4: parseAddressSetting(4, flags.ip, env),
    ipv6: parseAddressSetting(6, flags.ip6, env),
    asNumber: parseAsSetting(flags.as, env),
    argument: { 4: addressArgument(4, flags.ip, env).argument, 6: addressArgument(6, flags.ip6, env).argument },
  };
}

export interface RegisterAtStartOptions {
  readonly plan: RegistrationPlan;
  readonly store: OperatorStore;
  readonly host: HostAddresses;
  readonly log: Logger;
  readonly env: Env;
  /** Keep trying (watch mode) instead of failing at the first error the datastore or the host gives. */
  readonly retry: boolean;
  readonly signal: AbortSignal;
}

/**
 * Registers the node at start as calico-node's start-up did, through the same writer and checks as
 * `node register` (an address another node has is refused, exit 2). What a variable leaves unset is kept:
 * IP unset → the registered IPv4 address, else autodetected (first-found unless IP_AUTODETECTION_METHOD
 * says otherwise); IP6 unset → the registered IPv6 address (none if there is none; IP6=none clears it);
 * AS unset → the node's AS override as it is. An autodetected IPv4 address also sets network_v4.
 */
export async function registerAtStart(options: RegisterAtStartOptions): Promise<void> {
  const { plan, store, host, log, signal } = options;
  let attempt = 0;
  let said = false;
  for (;;) {
    try {
      await registerOnce(plan, store, host, log, options.env);
      return;
    } catch (error) {
      if (error instanceof UsageError || !options.retry || signal.aborted) throw error;
      if (!said)
        log.warn(
          {
            event: 'register-retrying' satisfies LogEvent,
            component: 'register',
            node: plan.node,
            err: errorMessage(error),
          },
          'cannot register the node yet; retrying',
        );
      said = true;
      attempt++;
      await abortableDelay(Math.min(1_000 * 2 ** Math.min(attempt, 3), 10_000), signal);
      if (signal.aborted) throw error;
    }
  }
}

async function registerOnce(
  plan: RegistrationPlan,
  store: OperatorStore,
  host: HostAddresses,
  log: Logger,
  env: Env,
): Promise<void> {
  const existing = (await listNodes(store)).nodes.find((n) => n.name === plan.node);
  const v4Setting: AddressSetting =
    plan.ipv4.kind === 'unset'
      ? existing?.ipv4 !== undefined
        ? { kind: 'address', address: existing.ipv4 }
        : parseAddressSetting(4, 'autodetect', env)
      : plan.ipv4;
  const v4 = await resolveAddressSetting(4, v4Setting, host);
  if (v4 === undefined) throw new UsageError(plan.argument[4], undefined, "the node's IPv4 address is required");
  const v6: ResolvedAddress | undefined =
    plan.ipv6.kind === 'unset'
      ? existing?.ipv6 !== undefined
        ? { address: existing.ipv6 }
        : undefined
      : await resolveAddressSetting(6, plan.ipv6, host);
  for (const note of [v4.note, v6?.note])
    if (note !== undefined)
      log.info({ event: 'register-note' satisfies LogEvent, component: 'register', node: plan.node }, note);
  try {
    const report = await registerNode(store, {
      name: plan.node,
      ipv4: v4.address,
      ipv6: v6?.address,
      asNumber: plan.asNumber ?? existing?.asNumber,
      networkV4: v4.detected !== undefined ? networkOf(v4.detected) : undefined,
    });
    log.info(
      {
        event: 'registered' satisfies LogEvent,
        component: 'register',
        node: plan.node,
        set: Object.fromEntries(report.puts),
        deleted: report.deletedKeys,
        notes: report.notes,
        revision: String(report.revision),
      },
      `node ${plan.node} registered: ${v4.address.text}${v6 !== undefined ? `, ${v6.address.text}` : ''}`,
    );
  } catch (error) {
    if (error instanceof OperatorConflictError) {
      const argument =
        error.value === v4.address.text
          ? plan.argument[4]
          : error.value === v6?.address.text
            ? plan.argument[6]
            : 'register';
      throw new UsageError(argument, error.value, error.reason);
    }
    throw error;
  }
}

/** The operator commands' store over run's own etcd client. */
export function etcdOperatorStore(client: Etcd3): OperatorStore {
  const writer = new EtcdWriter(client);
  return { read: (prefixes) => readEtcdSnapshot(client, prefixes), commit: (txn) => writer.commit(txn) };
}

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
