import { accept, refuse, type Validated } from './result.js';

// Hostname characters (RFC 1123 plus '_' which some clouds use); no '/' since names are key segments.
const NODE_NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,252})$/;
// Linux IFNAMSIZ is 16 including the NUL.
const INTERFACE_NAME = /^[A-Za-z0-9_.-]{1,15}$/;
const FILTER_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/** parseNodeName without the result object, for the per-node loop of every render. */
export const isNodeName = (text: string): boolean => NODE_NAME.test(text);

export function parseNodeName(text: string): Validated<string> {
  return NODE_NAME.test(text)
    ? accept(text)
    : refuse('node name must be 1-253 letters, digits, ".", "-" or "_", starting with a letter or digit');
}

export function parseInterfaceName(text: string): Validated<string> {
  return INTERFACE_NAME.test(text) && text !== '.' && text !== '..'
    ? accept(text)
    : refuse('interface name must be 1-15 letters, digits, "_", "." or "-"');
}

export function parseFilterName(text: string): Validated<string> {
  return FILTER_NAME.test(text)
    ? accept(text)
    : refuse('custom filter name must be 1-128 letters, digits, "_", "." or "-"');
}
