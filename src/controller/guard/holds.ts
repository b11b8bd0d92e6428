import { errorMessage } from '../../errorMessage.js';
import type { Keyspace } from '../../model/keyspaceIndex.js';
import type { Daemon } from '../../model/daemon.js';
import type { LogEvent } from '../../observe/logEvents.js';
import type { Logger } from '../../observe/logger.js';
import type { GuardHold } from '../../observe/runStatus.js';
import type { TemplateError } from '../../render/errors.js';
import { daemonOf, type FileSet } from '../../render/fileSet.js';
import type { CompiledTemplateSet } from '../../render/templateSet.js';
import type { RenderOutcome } from '../roleRenderer.js';
import { blameEntries } from './blame.js';
import { readGuardHolds, writeGuardHolds, type HeldEntry } from './holdsFile.js';
import type { GuardJudgement, JudgeInput } from './judgement.js';

/** What a revert holds back: an etcd entry (at the value BIRD ran before), the templates, or one exact rendering. */
export type HoldKey =
  | { readonly kind: 'entry'; readonly key: string }
  | { readonly kind: 'templates' }
  | { readonly kind: 'rendering'; readonly daemon: Daemon };

/** How a hold is named in logs and `/readyz`: the etcd key, `templates`, or `<daemon> rendering`. */
const holdName = (hold: HoldKey): string =>
  hold.kind === 'entry' ? hold.key : hold.kind === 'templates' ? 'templates' : `${hold.daemon} rendering`;

type Templates = CompiledTemplateSet | TemplateError;

interface Held {
  readonly hold: HoldKey;
  readonly daemon: Daemon;
  readonly reason: string;
  readonly at: number;
}

/** One daemon's rendered files as one string (a held rendering is compared by it). */
const renderingOf = (files: FileSet, daemon: Daemon): string =>
  [...files]
    .filter(([name]) => daemonOf(name) === daemon)
    .map(([name, content]) => `${name}\0${content}`)
    .join('\0');

/**
 * What the apply guard holds back after a revert, until what it holds changes (README "The apply guard"), and
 * what it needs to decide that: the templates and the keyspace BIRD last ran cleanly. Held entries are kept in
 * `.birdwatch-guard-holds.json`, so a restart keeps them held.
 */
export class GuardHolds {
  readonly #held = new Map<string, Held>();
  /** Held entries: the value reverted, and the value rendered instead (BIRD ran it before) until it changes. */
  readonly #entries = new Map<string, { bad: string | undefined; previous: string | undefined }>();
  #appliedTemplates: Templates;
  #heldTemplates: Templates | undefined;
  readonly #renderings = new Map<Daemon, string>();
  /** The keyspace BIRD last ran cleanly (what a blamed entry goes back to). */
  #applied: ReadonlyMap<string, string> | undefined;
  /** Values a previous birdwatch recorded in its guard marker, when no clean apply has been seen yet. */
  readonly #recoveredValues = new Map<string, string | undefined>();
  #loaded = false;

  constructor(
    private readonly configDir: string,
    private readonly log: Logger,
    templates: Templates,
  ) {
    this.#appliedTemplates = templates;
  }

  list(): GuardHold[] {
    return [...this.#held.values()].map((h) => ({
      key: holdName(h.hold),
      daemon: h.daemon,
      reason: h.reason,
      at: h.at,
    }));
  }

  /** Once: entries a previous birdwatch held stay held while their value is still the reverted one. */
  async load(keyspace: Keyspace, recoveredValues: ReadonlyMap<string, string | undefined>): Promise<void> {
    for (const [key, value] of recoveredValues) this.#recoveredValues.set(key, value);
    if (this.#loaded) return;
    this.#loaded = true;
    for (const [key, held] of Object.entries(await readGuardHolds(this.configDir))) {
      if ((keyspace.get(key) ?? null) !== held.bad) continue;
      this.#entries.set(key, { bad: held.bad ?? undefined, previous: held.previous ?? undefined });
      this.#held.set(key, { hold: { kind: 'entry', key }, daemon: held.daemon, reason: held.reason, at: held.at });
    }
    await this.#persist();
  }

  /** Holds lift when what they hold changes: the entry's value, the templates (a rendering: withHeldRenderings). */
  async release(keyspace: Keyspace, templates: Templates): Promise<void> {
    let releasedAny = false;
    for (const [name, { hold }] of this.#held) {
      const released =
        hold.kind === 'templates'
          ? templates !== this.#heldTemplates
          : hold.kind === 'entry' && keyspace.get(hold.key) !== this.#entries.get(hold.key)?.bad;
      if (!released) continue;
      this.#held.delete(name);
      if (hold.kind === 'entry') this.#entries.delete(hold.key);
      else this.#heldTemplates = undefined;
      releasedAny = true;
      this.log.info(
        { component: 'guard', event: 'guard-hold-released' satisfies LogEvent, key: name },
        `${name} changed; the apply guard lets it through again`,
      );
    }
    if (releasedAny) await this.#persist();
  }

  /** The templates to render: the ones last applied cleanly while the current ones are held back. */
  templatesFor(current: Templates): Templates {
    return current === this.#heldTemplates ? this.#appliedTemplates : current;
  }

  /** Held entries at the value BIRD ran before (undefined: absent then), laid over the keyspace for rendering. */
  overlay(): Map<string, string | undefined> {
    return new Map([...this.#entries].map(([key, held]) => [key, held.previous]));
  }

  /** A held rendering is not applied again: that daemon's live files stand in for it, until the rendering differs. */
  withHeldRenderings(rendered: RenderOutcome, live: ReadonlyMap<string, string>): RenderOutcome {
    if (this.#renderings.size === 0) return rendered;
    let files: Map<string, string> | undefined;
    for (const [daemon, fingerprint] of this.#renderings) {
      if (renderingOf(rendered.files, daemon) !== fingerprint) {
        this.#renderings.delete(daemon);
        this.#held.delete(holdName({ kind: 'rendering', daemon }));
        continue;
      }
      files ??= new Map(rendered.files);
      for (const name of files.keys())
        if (daemonOf(name) === daemon && live.has(name)) files.set(name, live.get(name)!);
    }
    return files ? { ...rendered, files } : rendered;
  }

  /** Every daemon runs what was rendered: these templates and this keyspace are what a revert goes back to. */
  appliedCleanly(templates: Templates, keyspace: Keyspace): void {
    if (templates !== this.#heldTemplates) this.#appliedTemplates = templates;
    this.#applied = new Map(keyspace); // a copy: the mirror mutates its map
  }

  /** Keys whose value differs from the last clean apply (null: absent then), recorded in the guard marker. */
  changedSinceApplied(keyspace: Keyspace): Record<string, string | null> {
    const applied = this.#applied;
    if (!applied) return Object.fromEntries([...this.#recoveredValues].map(([k, v]) => [k, v ?? null]));
    const changed: Record<string, string | null> = {};
    for (const [key, value] of keyspace) if (applied.get(key) !== value) changed[key] = applied.get(key) ?? null;
    for (const [key, value] of applied) if (!keyspace.has(key)) changed[key] = value;
    return changed;
  }

  /**
   * Holds back what a revert is pinned on: the blamed entries (rendered with their previous value until they
   * change), else the templates that changed since the last clean apply (until they change again), else this exact
   * rendering (until it differs). A blamed entry whose previous value is not known (no clean apply yet, no record
   * from a previous birdwatch) would render as absent — a peer removed, not reverted — so the rendering is held.
   */
  async holdBack(
    revert: { readonly daemon: Daemon; readonly reason: string; readonly blamed: readonly string[] },
    keyspace: Keyspace,
    templates: Templates,
    files: FileSet,
  ): Promise<HoldKey[]> {
    const { daemon, blamed } = revert;
    let holds: HoldKey[];
    if (blamed.length > 0 && blamed.every((key) => this.#applied !== undefined || this.#recoveredValues.has(key))) {
      for (const key of blamed)
        this.#entries.set(key, {
          bad: keyspace.get(key),
          previous: this.#applied ? this.#applied.get(key) : this.#recoveredValues.get(key),
        });
      holds = blamed.map((key) => ({ kind: 'entry', key }));
    } else if (templates !== this.#appliedTemplates) {
      this.#heldTemplates = templates;
      holds = [{ kind: 'templates' }];
    } else {
      this.#renderings.set(daemon, renderingOf(files, daemon));
      holds = [{ kind: 'rendering', daemon }];
    }
    const at = Date.now();
    for (const hold of holds) this.#held.set(holdName(hold), { hold, daemon, reason: revert.reason, at });
    await this.#persist();
    return holds;
  }

  async #persist(): Promise<void> {
    const entries: Record<string, HeldEntry> = {};
    for (const [key, { bad, previous }] of this.#entries) {
      const held = this.#held.get(key);
      if (held)
        entries[key] = {
          bad: bad ?? null,
          previous: previous ?? null,
          daemon: held.daemon,
          reason: held.reason,
          at: held.at,
        };
    }
    await writeGuardHolds(this.configDir, entries).catch((error: unknown) =>
      this.log.warn(
        { component: 'guard', event: 'guard-holds-not-recorded' satisfies LogEvent },
        `cannot record the held-back entries: ${errorMessage(error)}`,
      ),
    );
  }

  /**
   * A revert's hold: the entries it is pinned on (blame.ts: the keys behind the lines BIRD had not run, those that
   * changed since the last clean apply first), else the templates, else the rendering (holdBack). Logged once.
   */
  async holdBackReverted(j: GuardJudgement, input: JudgeInput): Promise<{ message: string; retry: boolean }> {
    const plan = input.guarded.get(j.daemon)!;
    const { rendered, keyspace } = input;
    const reason = `the apply guard reverted ${j.daemon}'s new configuration (${plan.reasons.join(', ')}): ${j.summary}`;
    const changed = this.changedSinceApplied(keyspace);
    const blamed = blameEntries(
      j.daemon,
      plan.live,
      rendered.files,
      rendered.spans(),
      plan.change.added,
      (key) => keyspace.has(key),
      (key) => key in changed,
    );
    const holds = await this.holdBack({ daemon: j.daemon, reason, blamed }, keyspace, input.templates, rendered.files);
    const held = holds.map(holdName);
    this.log.error(
      { component: 'guard', daemon: j.daemon, event: 'guard-held-back' satisfies LogEvent, blamed: held },
      `holding back ${held.join(', ')} until ${held.length === 1 ? 'it changes' : 'they change'}: ${reason}`,
    );
    return { message: `${reason}; held back: ${held.join(', ')}`, retry: holds[0]?.kind !== 'rendering' };
  }
}
