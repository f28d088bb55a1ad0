/**
 * The guest's console protocol: `/init` (examples/qemu/init) prints one line per result,
 * `GUEST-<KIND> key=value ...`; this module turns such a line into a typed event. Lines
 * that are not markers (kernel messages) yield `undefined`.
 */

export type GuestEvent =
  | { readonly kind: "boot"; readonly kernel: string }
  | {
      readonly kind: "lease";
      readonly ip: string;
      readonly mask: string;
      readonly router: string;
      readonly dns: string;
      /** DNS search domains the DHCP server offered (may be empty). */
      readonly searchDomains: readonly string[];
    }
  | { readonly kind: "dns"; readonly name: string; readonly ip: string }
  | { readonly kind: "fetch"; readonly url: string; readonly body: string }
  | { readonly kind: "ready"; readonly port: number }
  | { readonly kind: "error"; readonly step: string; readonly message: string }
  | { readonly kind: "shutdown" };

export type GuestEventKind = GuestEvent["kind"];

const MARKER = /^GUEST-([A-Z]+)(?: (.*))?$/;

/**
 * Parses `key=value` words. The `restKey`, when present, takes everything after it to the
 * end of the line (free text such as a page body or an error message, spaces included);
 * it is always the last key the guest prints.
 */
function parseFields(text: string, restKey?: string): Map<string, string> {
  const fields = new Map<string, string>();
  let head = text;
  if (restKey !== undefined) {
    const at = text.startsWith(`${restKey}=`) ? 0 : text.indexOf(` ${restKey}=`);
    if (at >= 0) {
      const valueStart = at + (at === 0 ? 0 : 1) + restKey.length + 1;
      fields.set(restKey, text.slice(valueStart));
      head = text.slice(0, at);
    }
  }
  for (const word of head.split(" ")) {
    const eq = word.indexOf("=");
    if (eq > 0) fields.set(word.slice(0, eq), word.slice(eq + 1));
  }
  return fields;
}

/** A field the marker must carry; a marker without it is malformed. */
function required(fields: Map<string, string>, key: string, line: string): string {
  const value = fields.get(key);
  if (value === undefined) throw new MalformedMarkerError(line, `missing ${key}=`);
  return value;
}

/** A line that starts like a marker but does not follow the protocol. */
export class MalformedMarkerError extends Error {
  constructor(
    readonly line: string,
    reason: string,
  ) {
    super(`malformed guest marker (${reason}): ${JSON.stringify(line)}`);
    this.name = "MalformedMarkerError";
  }
}

/**
 * The event a console line carries, or `undefined` when the line is not a marker.
 * @throws {MalformedMarkerError} for a `GUEST-` line of unknown kind or missing fields
 */
export function parseMarker(rawLine: string): GuestEvent | undefined {
  // The serial console ends lines with CRLF.
  const line = rawLine.replace(/\r+$/, "");
  const match = MARKER.exec(line);
  if (match === null) return undefined;
  const kind = match[1] ?? "";
  const rest = match[2] ?? "";
  switch (kind) {
    case "BOOT":
      return { kind: "boot", kernel: required(parseFields(rest), "kernel", line) };
    case "LEASE": {
      const f = parseFields(rest);
      const domains = f.get("domain") ?? "";
      return {
        kind: "lease",
        ip: required(f, "ip", line),
        mask: required(f, "mask", line),
        router: required(f, "router", line),
        dns: required(f, "dns", line),
        searchDomains: domains === "" ? [] : domains.split(","),
      };
    }
    case "DNS": {
      const f = parseFields(rest);
      return { kind: "dns", name: required(f, "name", line), ip: required(f, "ip", line) };
    }
    case "FETCH": {
      const f = parseFields(rest, "body");
      return { kind: "fetch", url: required(f, "url", line), body: required(f, "body", line) };
    }
    case "READY": {
      const port = Number(required(parseFields(rest), "port", line));
      if (!Number.isInteger(port)) throw new MalformedMarkerError(line, "port is not a number");
      return { kind: "ready", port };
    }
    case "ERROR": {
      const f = parseFields(rest, "msg");
      return { kind: "error", step: required(f, "step", line), message: required(f, "msg", line) };
    }
    case "SHUTDOWN":
      return { kind: "shutdown" };
    default:
      throw new MalformedMarkerError(line, `unknown kind ${kind}`);
  }
}
