/**
 * Keeping credentials out of log lines, in two layers: fields whose name says they hold a secret are replaced
 * wherever they sit in a logged object, and the finished line is scrubbed of private-key blocks and of the
 * secret values the process knows (the etcd password), whatever field or message they ended up in.
 */

export const REDACTED = '[redacted]';

/**
 * Field names that hold credentials: password, passwd, secret, token, privateKey/private_key, credentials,
 * authorization.
 */
const SECRET_FIELD = /pass(?:word|wd)|secret|token|private_?key|credential|authorization/i;
/** Fields that hold a whole credential object (etcd3's `auth: {username, password}`, grpc `credentials`). */
const SECRET_OBJECT_FIELD = /^(?:auth|credentials)$/i;
/** A PEM private key as it appears inside a JSON string (newlines escaped) or raw. */
const PEM_PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|(?=")|$)/g;
/** Secret values shorter than this are not searched for in lines (a 1-character password would redact every digit). */
const MIN_SCRUBBED_SECRET_LENGTH = 4;
const MAX_DEPTH = 8;

const isSecretField = (name: string): boolean => SECRET_FIELD.test(name) || SECRET_OBJECT_FIELD.test(name);

/**
 * A copy of `value` with every secret-named field replaced by `[redacted]`, at any depth (the input is not
 * changed; values without such fields are returned as they are). Errors, Buffers and class instances other
 * than plain objects and arrays are left to the serializers (and to `scrubLine`).
 */
export function redactFields<T>(value: T, depth = 0): T {
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let changed = false;
    const copy = value.map((item: unknown) => {
      const redacted = redactFields(item, depth + 1);
      if (redacted !== item) changed = true;
      return redacted;
    });
    return (changed ? copy : value) as T;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  let copy: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    const redacted =
      isSecretField(key) && item !== undefined && item !== null ? REDACTED : redactFields(item, depth + 1);
    if (redacted !== item) {
      copy ??= { ...(value as Record<string, unknown>) };
      copy[key] = redacted;
    }
  }
  return (copy ?? value) as T;
}

/** Escapes a string for use inside a RegExp. */
const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A function that scrubs one finished line: private-key blocks, and each of `secrets` (as written raw and as
 * JSON escapes it) are replaced by `[redacted]`.
 */
export function lineScrubber(secrets: readonly (string | undefined)[]): (line: string) => string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret === undefined || secret.length < MIN_SCRUBBED_SECRET_LENGTH) continue;
    forms.add(secret);
    forms.add(JSON.stringify(secret).slice(1, -1));
  }
  const known =
    forms.size > 0
      ? new RegExp(
          [...forms]
            .sort((a, b) => b.length - a.length)
            .map(escapeRegExp)
            .join('|'),
          'g',
        )
      : undefined;
  return (line) => {
    let out = line.includes('PRIVATE KEY-----') ? line.replace(PEM_PRIVATE_KEY, REDACTED) : line;
    if (known !== undefined) out = out.replace(known, REDACTED);
    return out;
  };
}
