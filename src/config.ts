/**
 * The network configuration: its public (camelCase) types and its conversion to the
 * config JSON of docs/ABI.md. Go owns every rule of the config (addresses, ranges,
 * defaults derived from the subnet, duplicates; libgvproxy/internal/config) and returns
 * the resolved config it runs. This side checks only what JSON cannot say: the
 * TypeScript types and shapes of the fields (so a JavaScript caller learns which field
 * has the wrong type; numbers are Go's, whose messages name the range), values JSON
 * cannot carry (bigint, NaN, functions), unknown fields
 * (which JSON.stringify would drop when undefined), `[hostPort, guestPort]` tuples
 * (written as objects), and the platform's `sun_path` limit of the socket path.
 */
import { GvproxyError } from "./errors.ts";
import type { Secret, TlsInterception } from "./secrets.ts";

/** Transport protocol of a port mapping. */
export type PortProtocol = "tcp" | "udp";

/**
 * How frames travel over the guest socket: `qemu` is QEMU's stream protocol on a
 * SOCK_STREAM socket (4-byte big-endian length before each frame), `vfkit` one frame per
 * datagram on a SOCK_DGRAM socket.
 */
export type GvproxyProtocol = "qemu" | "vfkit";

/** A port mapping given as an object; only the ports are required. */
export interface PortMappingObject {
  /** Port bound on the host, 1..65535; 0 lets the OS pick (the bound port is in `forwards()`). */
  readonly hostPort: number;
  /** Port in the guest the host port forwards to, 1..65535. */
  readonly guestPort: number;
  /** Host address to bind, IPv4 or IPv6; defaults to `127.0.0.1` (all interfaces only when asked: `0.0.0.0` or `::`). */
  readonly hostIp?: string;
  /** Transport protocol; defaults to `tcp`. */
  readonly protocol?: PortProtocol;
}

/** A host-to-guest port forward: `[hostPort, guestPort]` or a {@link PortMappingObject}. */
export type PortMapping = readonly [hostPort: number, guestPort: number] | PortMappingObject;

/** One name inside a {@link DnsZone}. */
export interface DnsRecord {
  /** Name relative to the zone, e.g. `db` in zone `example.internal.`. */
  readonly name: string;
  /** IPv4 address the name resolves to. */
  readonly ip: string;
}

/** A DNS zone answered by the gateway's DNS server before the host's resolvers. */
export interface DnsZone {
  /** Zone name, e.g. `example.internal.` (a missing trailing dot is added). */
  readonly name: string;
  /** Names inside the zone. */
  readonly records?: readonly DnsRecord[];
  /** Address returned for any other name inside the zone. */
  readonly defaultIp?: string;
}

/**
 * Every optional setting of a network. Go fills in the defaults (DESIGN.md); the
 * network's `instance.config` shows the values in use.
 */
export interface GvproxyOptions {
  /** Guest socket protocol; `qemu` on Linux, `vfkit` on macOS by default. */
  readonly protocol?: GvproxyProtocol;
  /** Virtual network, an IPv4 CIDR. Default `192.168.127.0/24`. */
  readonly subnet?: string;
  /** Gateway (DHCP, DNS, NAT) address inside `subnet`. Default the subnet's first host address (`192.168.127.1`). */
  readonly gatewayIp?: string;
  /** Address DHCP leases to the guest, inside `subnet`. Default the subnet's second host address (`192.168.127.2`). */
  readonly guestIp?: string;
  /** Gateway MAC address. Default `5a:94:ef:e4:0c:dd`. */
  readonly gatewayMac?: string;
  /** Guest MAC address (the VM's NIC). Default `5a:94:ef:e4:0c:ee`. */
  readonly guestMac?: string;
  /** Link MTU, 576..65520. Default 1500. */
  readonly mtu?: number;
  /** Zones answered by the gateway's DNS server. Default none. */
  readonly dnsZones?: readonly DnsZone[];
  /** DNS search domains handed out by DHCP. Default none. */
  readonly dnsSearchDomains?: readonly string[];
  /** Whether `hostLoopbackIp` is NATed to the host's 127.0.0.1. Default true. */
  readonly hostLoopback?: boolean;
  /** Guest-visible address of the host's loopback; default the subnet's broadcast address minus one (`.254` in a /24). */
  readonly hostLoopbackIp?: string;
  /**
   * Egress allow-list: what the guest may reach on the host's network. Empty (the
   * default) means no filtering. Each entry is one of, optionally followed by `:port`
   * (IPv6 in brackets then, `[2001:db8::1]:443`); without a port every port is allowed:
   *
   * - a host name, `api.example.com`: only that name, not names below it;
   * - a wildcard, `*.example.com`: every name strictly below `example.com`, at any depth
   *   (`a.b.example.com` too), but not `example.com` itself (list it as well if wanted);
   * - an IP address, `203.0.113.7`, or a CIDR, `10.0.0.0/8`.
   *
   * With a non-empty list every new TCP connection and UDP flow from the guest is checked
   * by destination address and port before the host dials it; a refusal is a TCP reset or
   * an ICMP port unreachable, counted in `stats().policy.denied` and logged at debug with
   * destination and reason. Names open addresses only through the gateway DNS: when the
   * guest resolves an allowed name there, the addresses of the answer are allowed for
   * that name until the answer's TTL runs out (at least 30 s, at most 1 h; TTLs handed to
   * the guest are capped to match); connecting to any other address, an IP literal
   * included, is refused. On TCP 443 and 80, an address opened only by a name also needs
   * the TLS ClientHello's SNI, or the Host of every HTTP request on the connection, to be
   * an allowed name (a shared address serves other sites too); TLS with Encrypted Client
   * Hello is refused, because the real name is hidden. UDP 443 (QUIC) to an address
   * opened only by a name is refused, because QUIC hides the name; clients fall back to
   * TCP. Address entries are not inspected, for any protocol.
   *
   * A ping (ICMP echo request) to an address beyond the gateway is sent from the host
   * (ping socket, else raw socket; with neither permitted it gets no reply, logged once)
   * only when an entry without a port opens that address: an IP/CIDR entry, or a name
   * that resolved to it. An entry with a port opens that port, not ping. A refused ping
   * gets no reply. The gateway answers pings to its own address itself.
   *
   * The gateway DNS answers only allowed names, for every record type; other names get
   * NXDOMAIN, and DNS to any other server is refused like other traffic unless an entry
   * allows it. Names of the configured `dnsZones` are exempt: their A queries are always
   * answered (other types get an empty answer), but they open no address unless allowed.
   *
   * The host itself (loopback, 0.0.0.0, the host's own interface addresses and the host
   * loopback address `hostLoopbackIp`) is reachable only through an entry naming that
   * exact address (`192.168.127.254`), never through a wider CIDR such as `0.0.0.0/0` or
   * a name resolving to it; with `hostLoopback: false` it is not reachable at all.
   */
  readonly allowNet?: readonly string[] | "none";
  /**
   * Host Unix sockets the guest reaches at `hostLoopbackIp:<port>`: the safe way to give
   * a sandbox one host service without opening host TCP ports. Works with
   * `hostLoopback: false`; `allowNet` does not apply (it is not egress). With
   * `hostLoopback: false` the network answers pings to that address itself while a host
   * socket is configured, as the gateway answers its own (the host is never pinged).
   */
  readonly hostSockets?: readonly HostSocket[];
  /** Path of a pcap file recording every frame; default none. */
  readonly captureFile?: string;
  /** Verbose gvisor-tap-vsock logging. Default false. */
  readonly debug?: boolean;
  /**
   * Secrets the guest never sees: it holds placeholders, which the network replaces by
   * the values in HTTPS requests to each secret's hosts (TLS to those names on port 443
   * is intercepted with a certificate from {@link GvproxyOptions.tlsInterception}'s CA,
   * which the guest must trust; `caCertificatePem()`). Default none: nothing is
   * intercepted. Replace them at runtime with `setSecrets()`. See {@link Secret}.
   */
  readonly secrets?: readonly Secret[];
  /** The CA and the extra upstream roots of TLS interception; see {@link TlsInterception}. */
  readonly tlsInterception?: TlsInterception;
}

/** A host Unix socket the guest reaches at `hostLoopbackIp:port` (`hostSockets`). */
export interface HostSocket {
  /** Guest TCP port on the host loopback address, 1..65535. */
  readonly port: number;
  /** Absolute path of the host's Unix socket; dialed for each guest connection. */
  readonly path: string;
}

/** A complete network configuration: the socket path, port mappings and options. */
export interface GvproxyConfig extends GvproxyOptions {
  /** Path of the Unix socket the VM connects to; unique per VM. */
  readonly socketPath: string;
  /** Host-to-guest port forwards. Default none. */
  readonly portMappings?: readonly PortMapping[];
}

/** A port mapping with its defaults applied. */
export interface ResolvedPortMapping {
  /** Host address bound. */
  readonly hostIp: string;
  /** Port bound on the host (the one the OS picked when the config said 0). */
  readonly hostPort: number;
  /** Port in the guest. */
  readonly guestPort: number;
  /** Transport protocol. */
  readonly protocol: PortProtocol;
}

/** A DNS zone with its defaults applied and its name fully qualified. */
export interface ResolvedDnsZone {
  /** Zone name, ending with a dot. */
  readonly name: string;
  /** Names inside the zone. */
  readonly records: readonly DnsRecord[];
  /** Address for any other name inside the zone, if set. */
  readonly defaultIp?: string;
}

/**
 * The configuration a network runs, as libgvproxy resolved it (`instance.config`): every
 * default filled in (gateway, guest and host-loopback addresses from the subnet, each
 * mapping's host address and protocol, the port the OS bound for `hostPort` 0), names
 * normalised (MACs lower case, zone and record names lower case, zones fully qualified).
 * Each field means the same as in {@link GvproxyConfig}.
 */
export interface ResolvedGvproxyConfig {
  /** Unix socket path the VM connects to. */
  readonly socketPath: string;
  /** Guest socket protocol. */
  readonly protocol: GvproxyProtocol;
  /** Virtual network (IPv4 CIDR). */
  readonly subnet: string;
  /** Gateway address. */
  readonly gatewayIp: string;
  /** Address leased to the guest. */
  readonly guestIp: string;
  /** Gateway MAC, lower case. */
  readonly gatewayMac: string;
  /** Guest MAC, lower case. */
  readonly guestMac: string;
  /** Link MTU. */
  readonly mtu: number;
  /** Host-to-guest port forwards. */
  readonly portMappings: readonly ResolvedPortMapping[];
  /** Zones answered by the gateway's DNS server. */
  readonly dnsZones: readonly ResolvedDnsZone[];
  /** DNS search domains handed out by DHCP. */
  readonly dnsSearchDomains: readonly string[];
  /** Whether `hostLoopbackIp` reaches the host's 127.0.0.1. */
  readonly hostLoopback: boolean;
  /** Guest-visible address of the host's loopback. */
  readonly hostLoopbackIp: string;
  /** Egress allow-list entries (see {@link GvproxyOptions.allowNet}); empty means unfiltered, "none" refuses all. */
  readonly allowNet: readonly string[] | "none";
  /** Host sockets the guest reaches on the host loopback address. */
  readonly hostSockets: readonly HostSocket[];
  /** pcap file path, or undefined for none. */
  readonly captureFile: string | undefined;
  /** Verbose gvisor-tap-vsock logging. */
  readonly debug: boolean;
  /** The secrets as configured, without their values (a value never comes back from libgvproxy). */
  readonly secrets: readonly ResolvedSecret[];
}

/** A configured secret as `instance.config` shows it: placeholder and normalised hosts, never the value. */
export interface ResolvedSecret {
  readonly placeholder: string;
  readonly hosts: readonly string[];
}

/**
 * Longest socket path in bytes: `sun_path` is 108 bytes on Linux and 104 on macOS/BSD,
 * one of which is the terminating NUL.
 */
export const MAX_SOCKET_PATH_BYTES = process.platform === "linux" ? 107 : 103;

/** Checks one value's shape and returns it as it goes into the JSON; `field` names it in errors. */
type Shape = (value: unknown, field: string) => unknown;

const text: Shape = (value, field) => (typeof value === "string" ? value : invalid(field, `${field} must be a string, got ${show(value)}`));

/**
 * A number field. Its type and range are Go's rules (the message names the range); a
 * number JSON cannot carry (NaN, Infinity, a bigint) goes as its text, which Go refuses
 * like any non-integer, instead of turning into `null` (the default) on the way.
 */
const number: Shape = (value, field) => {
  if (typeof value === "bigint" || (typeof value === "number" && !Number.isFinite(value))) return String(value);
  if (typeof value === "symbol" || typeof value === "function") invalid(field, `${field} holds ${String(value)}, which JSON cannot carry`);
  return value;
};

const flag: Shape = (value, field) => (typeof value === "boolean" ? value : invalid(field, `${field} must be true or false, got ${show(value)}`));

/** An optional field: undefined or null is left out of the JSON (Go applies the default). */
function optional(shape: Shape): Shape {
  return (value, field) => (value === undefined || value === null ? undefined : shape(value, field));
}

/** A list; each entry is checked with its index in the field name (`field[i]`). */
function list(entry: Shape, expected = "an array"): Shape {
  return (value, field) => {
    if (!Array.isArray(value)) invalid(field, `${field} must be ${expected}, got ${show(value)}`);
    return value.map((item: unknown, i) => entry(item, `${field}[${i}]`));
  };
}

/** An object with exactly these fields (unknown ones refused); `field` "" is the config itself. */
function record(fields: Readonly<Record<string, Shape>>): Shape {
  return (value, field) => {
    const input = requireRecord(value, field || "config");
    const prefix = field ? `${field}.` : "";
    for (const key of Object.keys(input)) {
      if (!Object.hasOwn(fields, key)) invalid(`${prefix}${key}`, `${prefix}${key} is not a known config field`);
    }
    return Object.fromEntries(Object.entries(fields).map(([key, shape]) => [key, shape(input[key], `${prefix}${key}`)]));
  };
}

const portMappingObject = record({ hostPort: number, guestPort: number, hostIp: optional(text), protocol: optional(text) });

/** A port mapping: a `[hostPort, guestPort]` tuple becomes the object Go reads. */
const portMapping: Shape = (value, field) => {
  if (Array.isArray(value)) return portMappingObject(portMappingFromTuple(value, field), field);
  if (typeof value !== "object" || value === null) {
    invalid(field, `${field} must be [hostPort, guestPort] or { hostPort, guestPort, hostIp?, protocol? }, got ${show(value)}`);
  }
  return portMappingObject(value, field);
};

const dnsZone = record({
  name: text,
  records: optional(list(record({ name: text, ip: text }))),
  defaultIp: optional(text),
});

const allowNet: Shape = (value, field) =>
  value === "none" ? value : list(text, `an array of entries like "example.com", "*.example.com:443" or "10.0.0.0/8", or "none"`)(value, field);

/** A secret's value: a string, and an error never shows what was given instead. */
const secretText: Shape = (value, field) => (typeof value === "string" ? value : invalid(field, `${field} must be a string, got a ${typeof value}`));

/** A secret (see secrets.ts); libgvproxy checks the rules. */
const secretShape = record({ placeholder: text, value: secretText, hosts: list(text) });

const tlsInterception = record({
  ca: optional(record({ certPem: secretText, keyPem: secretText })),
  upstreamCaPem: optional(list(text)),
});

/** The shape of a config (GvproxyConfig), field by field. */
const configShape = record({
  socketPath: (value, field) => requireSocketPath(value, field),
  protocol: optional(text),
  subnet: optional(text),
  gatewayIp: optional(text),
  guestIp: optional(text),
  gatewayMac: optional(text),
  guestMac: optional(text),
  mtu: optional(number),
  portMappings: optional(list(portMapping)),
  dnsZones: optional(list(dnsZone)),
  dnsSearchDomains: optional(list(text)),
  hostLoopback: optional(flag),
  hostLoopbackIp: optional(text),
  allowNet: optional(allowNet),
  hostSockets: optional(list(record({ port: number, path: text }))),
  captureFile: optional(text),
  debug: optional(flag),
  secrets: optional(list(secretShape)),
  tlsInterception: optional(tlsInterception),
});

/**
 * The config JSON `gvproxy_create` takes (docs/ABI.md) for `config`, after checking its
 * shape. Throws {@link GvproxyError} `INVALID_CONFIG` (or `SOCKET_PATH_TOO_LONG`) whose
 * `field` names the field at fault; every other rule is checked by Go.
 */
export function configJson(config: GvproxyConfig): string {
  return jsonArgument(configShape(config, ""), "config");
}

/** The JSON of `setSecrets`' argument after checking its shape (field `secrets`). */
export function secretsJson(secrets: unknown): string {
  return jsonArgument(list(secretShape)(secrets, "secrets"), "secrets");
}

/**
 * `[hostPort, guestPort]` as the object Go reads, for the config and for `expose`.
 * @throws {GvproxyError} `INVALID_CONFIG` naming `field` for a tuple of another length
 */
export function portMappingFromTuple(tuple: readonly unknown[], field: string): PortMappingObject {
  if (tuple.length !== 2) invalid(field, `${field} must be [hostPort, guestPort], got ${show(tuple)}`);
  return { hostPort: tuple[0] as number, guestPort: tuple[1] as number };
}

/** The socket path: a string within the platform's `sun_path` limit (Go checks the rest). */
function requireSocketPath(value: unknown, field: string): string {
  if (typeof value !== "string") invalid(field, `${field} must be a non-empty path, got ${show(value)}`);
  const bytes = Buffer.byteLength(value);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new GvproxyError(
      "SOCKET_PATH_TOO_LONG",
      `socket path ${value} is ${bytes} bytes, longer than the ${MAX_SOCKET_PATH_BYTES}-byte limit of a Unix socket address on ${process.platform}; use a shorter path`,
      { field },
    );
  }
  return value;
}

/**
 * The JSON text of a value handed to libgvproxy (the config, a runtime argument); what
 * JSON cannot carry (bigint, symbol, function, NaN, Infinity, cycles) is `INVALID_CONFIG`.
 */
export function jsonArgument(value: unknown, field: string): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v === "bigint" || typeof v === "symbol" || typeof v === "function" || (typeof v === "number" && !Number.isFinite(v))) {
        throw new GvproxyError("INVALID_CONFIG", `${field} holds ${String(v)}, which JSON cannot carry`, { field });
      }
      return v;
    });
  } catch (error) {
    if (error instanceof GvproxyError) throw error;
    throw new GvproxyError("INVALID_CONFIG", `${field} cannot be encoded as JSON: ${String(error)}`, { field, cause: error });
  }
  if (json === undefined) throw new GvproxyError("INVALID_CONFIG", `${field} is required`, { field });
  return json;
}

/** Narrows `value` to a plain object, or throws `INVALID_CONFIG` naming `field`. */
export function requireRecord(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    invalid(field, `${field} must be an object, got ${show(value)}`);
  }
  return value as Record<string, unknown>;
}

function invalid(field: string, message: string): never {
  throw new GvproxyError("INVALID_CONFIG", message, { field });
}

/** Renders a rejected value for an error message: strings quoted, numbers as written. */
function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint" || value == null) {
    return String(value);
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
