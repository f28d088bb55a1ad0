/**
 * The network configuration: its public (camelCase) type, the defaults of DESIGN.md,
 * validation in TypeScript before anything crosses FFI, and serialization to the config
 * JSON of docs/ABI.md. Validation is complete here so a caller gets an error naming the
 * field at fault without the library being loaded; Go validates again because it never
 * trusts its caller.
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
  /** Host address to bind; defaults to `127.0.0.1` (all interfaces only when asked: `0.0.0.0`). */
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

/** Every optional setting of a network; each has the default of {@link DEFAULT_GVPROXY_OPTIONS}. */
export interface GvproxyOptions {
  /** Guest socket protocol; `qemu` on Linux, `vfkit` on macOS by default. */
  readonly protocol?: GvproxyProtocol;
  /** Virtual network, an IPv4 CIDR. Default `192.168.127.0/24`. */
  readonly subnet?: string;
  /** Gateway (DHCP, DNS, NAT) address inside `subnet`. Default `192.168.127.1`. */
  readonly gatewayIp?: string;
  /** Address DHCP leases to the guest, inside `subnet`. Default `192.168.127.2`. */
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
   * `hostLoopback: false`; `allowNet` does not apply (it is not egress).
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
   * which the guest must trust). Default none: nothing is intercepted.
   * Replace them at runtime with `setSecrets()`.
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
  /** Port bound on the host. */
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
 * A validated configuration with every default applied; each field means the same as in
 * {@link GvproxyConfig}.
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
  /** Secrets injected into intercepted HTTPS requests, as given (values included). */
  readonly secrets: readonly Secret[];
  /** TLS interception's CA and extra upstream roots, as given. */
  readonly tlsInterception: TlsInterception | undefined;
}

/** The guest socket protocol of this platform: vfkit datagrams on macOS, QEMU stream elsewhere. */
export const DEFAULT_PROTOCOL: GvproxyProtocol = process.platform === "darwin" ? "vfkit" : "qemu";

/** The defaults of every option (DESIGN.md); `hostLoopbackIp` is derived from `subnet`. */
export const DEFAULT_GVPROXY_OPTIONS = {
  protocol: DEFAULT_PROTOCOL,
  subnet: "192.168.127.0/24",
  gatewayIp: "192.168.127.1",
  guestIp: "192.168.127.2",
  gatewayMac: "5a:94:ef:e4:0c:dd",
  guestMac: "5a:94:ef:e4:0c:ee",
  mtu: 1500,
  dnsZones: [],
  dnsSearchDomains: [],
  hostLoopback: true,
  allowNet: [],
  hostSockets: [],
  captureFile: undefined,
  debug: false,
  secrets: [],
  tlsInterception: undefined,
} as const satisfies Omit<GvproxyOptions, "hostLoopbackIp">;

/** Default host address of a port mapping: loopback, never all interfaces unless asked. */
export const DEFAULT_HOST_IP = "127.0.0.1";

/** Smallest MTU: the IPv4 minimum datagram size every host must accept. */
export const MIN_MTU = 576;
/** Largest MTU: the largest frame the QEMU stream and vfkit datagram transports carry. */
export const MAX_MTU = 65520;

/**
 * Longest socket path in bytes: `sun_path` is 108 bytes on Linux and 104 on macOS/BSD,
 * one of which is the terminating NUL.
 */
export const MAX_SOCKET_PATH_BYTES = process.platform === "linux" ? 107 : 103;

const CONFIG_FIELDS = new Set<string>([
  "socketPath",
  "portMappings",
  ...Object.keys(DEFAULT_GVPROXY_OPTIONS),
  "hostLoopbackIp",
]);
const PORT_MAPPING_FIELDS = new Set(["hostPort", "guestPort", "hostIp", "protocol"]);
const HOST_SOCKET_FIELDS = new Set(["port", "path"]);
const DNS_ZONE_FIELDS = new Set(["name", "records", "defaultIp"]);
const DNS_RECORD_FIELDS = new Set(["name", "ip"]);

/**
 * Validates `config` and applies every default. Throws {@link GvproxyError} with code
 * `INVALID_CONFIG` (or `SOCKET_PATH_TOO_LONG`) whose `field` names the field at fault and
 * whose message says what was expected and what was given.
 */
export function resolveConfig(config: GvproxyConfig): ResolvedGvproxyConfig {
  const input = requireRecord(config, "config");
  rejectUnknownFields(input, CONFIG_FIELDS, "");
  const socketPath = resolveSocketPath(input.socketPath);
  const subnetField = input.subnet ?? DEFAULT_GVPROXY_OPTIONS.subnet;
  const subnet = parseSubnet(subnetField, "subnet");
  const gatewayIp = resolveHostAddress(input.gatewayIp ?? DEFAULT_GVPROXY_OPTIONS.gatewayIp, "gatewayIp", subnet);
  const guestIp = resolveHostAddress(input.guestIp ?? DEFAULT_GVPROXY_OPTIONS.guestIp, "guestIp", subnet);
  if (guestIp === gatewayIp) invalid("guestIp", `guestIp must differ from gatewayIp, both are ${guestIp}`);
  const hostLoopback = optionalBoolean(input.hostLoopback, "hostLoopback", DEFAULT_GVPROXY_OPTIONS.hostLoopback);
  const hostLoopbackIp = resolveHostLoopbackIp(input.hostLoopbackIp, subnet, [gatewayIp, guestIp]);
  const gatewayMac = resolveMac(input.gatewayMac ?? DEFAULT_GVPROXY_OPTIONS.gatewayMac, "gatewayMac");
  const guestMac = resolveMac(input.guestMac ?? DEFAULT_GVPROXY_OPTIONS.guestMac, "guestMac");
  if (guestMac === gatewayMac) invalid("guestMac", `guestMac must differ from gatewayMac, both are ${guestMac}`);
  const captureFile = input.captureFile;
  if (captureFile !== undefined && (typeof captureFile !== "string" || captureFile === "" || captureFile.includes("\0"))) {
    invalid("captureFile", `captureFile must be a non-empty file path or undefined, got ${show(captureFile)}`);
  }
  return {
    socketPath,
    protocol: resolveProtocol(input.protocol),
    subnet: subnetField as string,
    gatewayIp,
    guestIp,
    gatewayMac,
    guestMac,
    mtu: resolveMtu(input.mtu),
    portMappings: resolvePortMappings(input.portMappings),
    dnsZones: resolveDnsZones(input.dnsZones),
    dnsSearchDomains: resolveSearchDomains(input.dnsSearchDomains),
    hostLoopback,
    hostLoopbackIp,
    allowNet: resolveAllowNet(input.allowNet),
    hostSockets: resolveList(input.hostSockets, "hostSockets", resolveHostSocket),
    captureFile,
    debug: optionalBoolean(input.debug, "debug", DEFAULT_GVPROXY_OPTIONS.debug),
    // Checked by libgvproxy (internal/config): shapes JSON carries as they are.
    secrets: (input.secrets ?? []) as readonly Secret[],
    tlsInterception: input.tlsInterception as TlsInterception | undefined,
  };
}

/** Serializes a resolved config to the config JSON `gvproxy_create` takes (docs/ABI.md). */
export function toGoConfigJson(config: ResolvedGvproxyConfig): string {
  return JSON.stringify({
    socketPath: config.socketPath,
    protocol: config.protocol,
    subnet: config.subnet,
    gatewayIp: config.gatewayIp,
    guestIp: config.guestIp,
    gatewayMac: config.gatewayMac,
    guestMac: config.guestMac,
    mtu: config.mtu,
    portMappings: config.portMappings.map((m) => ({
      hostIp: m.hostIp,
      hostPort: m.hostPort,
      guestPort: m.guestPort,
      protocol: m.protocol,
    })),
    dnsZones: config.dnsZones.map((zone) => ({
      name: zone.name,
      records: zone.records.map((r) => ({ name: r.name, ip: r.ip })),
      ...(zone.defaultIp === undefined ? {} : { defaultIp: zone.defaultIp }),
    })),
    dnsSearchDomains: config.dnsSearchDomains,
    hostLoopback: config.hostLoopback,
    hostLoopbackIp: config.hostLoopbackIp,
    allowNet: config.allowNet,
    hostSockets: config.hostSockets.map((h) => ({ port: h.port, path: h.path })),
    captureFile: config.captureFile ?? "",
    debug: config.debug,
    secrets: config.secrets,
    ...(config.tlsInterception === undefined ? {} : { tlsInterception: config.tlsInterception }),
  });
}

// ---------------------------------------------------------------------------------------
// Field resolvers: each validates one field and returns it with its default applied.

function resolveSocketPath(value: unknown): string {
  if (typeof value !== "string" || value === "") {
    invalid("socketPath", `socketPath must be a non-empty path, got ${show(value)}`);
  }
  if (value.includes("\0")) invalid("socketPath", `socketPath must not contain NUL bytes, got ${show(value)}`);
  const bytes = Buffer.byteLength(value);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new GvproxyError(
      "SOCKET_PATH_TOO_LONG",
      `socket path ${value} is ${bytes} bytes, longer than the ${MAX_SOCKET_PATH_BYTES}-byte limit of a Unix socket address on ${process.platform}; use a shorter path`,
      { field: "socketPath" },
    );
  }
  return value;
}

function resolveProtocol(value: unknown): GvproxyProtocol {
  if (value === undefined) return DEFAULT_PROTOCOL;
  if (value === "qemu" || value === "vfkit") return value;
  invalid("protocol", `protocol must be "qemu" or "vfkit", got ${show(value)}`);
}

function resolveMtu(value: unknown): number {
  if (value === undefined) return DEFAULT_GVPROXY_OPTIONS.mtu;
  if (!Number.isInteger(value) || (value as number) < MIN_MTU || (value as number) > MAX_MTU) {
    invalid("mtu", `mtu must be an integer ${MIN_MTU}..${MAX_MTU}, got ${show(value)}`);
  }
  return value as number;
}

function resolveHostAddress(value: unknown, field: string, subnet: Subnet): string {
  const ip = parseIpv4(value, field);
  if (!subnet.contains(ip)) invalid(field, `${field} ${show(value)} is outside subnet ${subnet.text}`);
  if (ip === subnet.network || ip === subnet.broadcast) {
    invalid(field, `${field} ${show(value)} is the network or broadcast address of subnet ${subnet.text}`);
  }
  return value as string;
}

function resolveHostLoopbackIp(value: unknown, subnet: Subnet, taken: readonly string[]): string {
  const resolved = value === undefined ? formatIpv4(subnet.broadcast - 1) : resolveHostAddress(value, "hostLoopbackIp", subnet);
  if (taken.includes(resolved)) {
    invalid("hostLoopbackIp", `hostLoopbackIp ${resolved} must differ from gatewayIp and guestIp`);
  }
  return resolved;
}

function resolveMac(value: unknown, field: string): string {
  if (typeof value !== "string" || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(value)) {
    invalid(field, `${field} must be a MAC address like 5a:94:ef:e4:0c:ee, got ${show(value)}`);
  }
  const mac = value.toLowerCase();
  // The low bit of the first octet marks a multicast address, which no NIC may own.
  if (Number.parseInt(mac.slice(0, 2), 16) & 1) invalid(field, `${field} must be a unicast MAC address, got ${show(value)}`);
  return mac;
}

function resolvePortMappings(value: unknown): ResolvedPortMapping[] {
  const mappings = resolveList(value, "portMappings", resolvePortMapping);
  mappings.forEach((mapping, i) => {
    const clash = mappings.findIndex((other, j) => j < i && portsClash(other, mapping));
    if (clash >= 0) {
      invalid(
        `portMappings[${i}].hostPort`,
        `portMappings[${i}].hostPort ${mapping.protocol} ${mapping.hostIp}:${mapping.hostPort} duplicates portMappings[${clash}]`,
      );
    }
  });
  return mappings;
}

function resolvePortMapping(entry: unknown, field: string): ResolvedPortMapping {
  if (Array.isArray(entry)) {
    if (entry.length !== 2) invalid(field, `${field} must be [hostPort, guestPort], got ${show(entry)}`);
    return {
      hostIp: DEFAULT_HOST_IP,
      hostPort: requirePort(entry[0], `${field}[0]`, 0),
      guestPort: requirePort(entry[1], `${field}[1]`),
      protocol: "tcp",
    };
  }
  if (typeof entry !== "object" || entry === null) {
    invalid(field, `${field} must be [hostPort, guestPort] or { hostPort, guestPort, hostIp?, protocol? }, got ${show(entry)}`);
  }
  const mapping = entry as Record<string, unknown>;
  rejectUnknownFields(mapping, PORT_MAPPING_FIELDS, `${field}.`);
  const protocol = mapping.protocol ?? "tcp";
  if (protocol !== "tcp" && protocol !== "udp") {
    invalid(`${field}.protocol`, `${field}.protocol must be "tcp" or "udp", got ${show(mapping.protocol)}`);
  }
  const hostIp = mapping.hostIp ?? DEFAULT_HOST_IP;
  parseIpv4(hostIp, `${field}.hostIp`);
  return {
    hostIp: hostIp as string,
    hostPort: requirePort(mapping.hostPort, `${field}.hostPort`, 0),
    guestPort: requirePort(mapping.guestPort, `${field}.guestPort`),
    protocol,
  };
}

/** Two mappings clash when they would bind the same host port: same address or a wildcard. */
function portsClash(a: ResolvedPortMapping, b: ResolvedPortMapping): boolean {
  if (a.protocol !== b.protocol || a.hostPort !== b.hostPort || a.hostPort === 0) return false;
  return a.hostIp === b.hostIp || a.hostIp === "0.0.0.0" || b.hostIp === "0.0.0.0";
}

/** A port number; `min` 0 for a host port, where 0 lets the OS pick. */
function requirePort(value: unknown, field: string, min = 1): number {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > 65535) {
    invalid(field, `${field} must be an integer ${min}..65535, got ${show(value)}`);
  }
  return value as number;
}

/** One `hostSockets` entry: its shape here, its rules (path, duplicates) in Go. */
function resolveHostSocket(entry: unknown, field: string): HostSocket {
  const socket = requireRecord(entry, field);
  rejectUnknownFields(socket, HOST_SOCKET_FIELDS, `${field}.`);
  if (typeof socket.path !== "string") invalid(`${field}.path`, `${field}.path must be a Unix socket path, got ${show(socket.path)}`);
  return { port: requirePort(socket.port, `${field}.port`), path: socket.path };
}

function resolveDnsZones(value: unknown): ResolvedDnsZone[] {
  return resolveList(value, "dnsZones", resolveDnsZone);
}

function resolveDnsZone(entry: unknown, field: string): ResolvedDnsZone {
  const zone = requireRecord(entry, field);
  rejectUnknownFields(zone, DNS_ZONE_FIELDS, `${field}.`);
  const name = requireDnsName(zone.name, `${field}.name`);
  const resolved: ResolvedDnsZone = {
    // gvisor-tap-vsock matches query names, which are fully qualified, against the zone name.
    name: name.endsWith(".") ? name : `${name}.`,
    // A null records list is accepted as empty, as it always has been.
    records: resolveList(zone.records ?? [], `${field}.records`, resolveDnsRecord),
  };
  if (zone.defaultIp === undefined) return resolved;
  parseIpv4(zone.defaultIp, `${field}.defaultIp`);
  return { ...resolved, defaultIp: zone.defaultIp as string };
}

function resolveDnsRecord(entry: unknown, field: string): DnsRecord {
  const record = requireRecord(entry, field);
  rejectUnknownFields(record, DNS_RECORD_FIELDS, `${field}.`);
  const name = requireDnsName(record.name, `${field}.name`);
  parseIpv4(record.ip, `${field}.ip`);
  return { name, ip: record.ip as string };
}

function resolveSearchDomains(value: unknown): string[] {
  return resolveList(value, "dnsSearchDomains", requireDnsName);
}

function resolveAllowNet(value: unknown): string[] | "none" {
  if (value === "none") return "none";
  return resolveList(
    value,
    "allowNet",
    resolveAllowNetEntry,
    `an array of entries like "example.com", "*.example.com:443" or "10.0.0.0/8"`,
  );
}

/** `[v6]`, `[v6]/bits` or `[v6]:port`: brackets keep an IPv6 literal apart from a port. */
const BRACKETED_IPV6_ENTRY = /^\[([0-9A-Fa-f:.]+)\](\/\d{1,3})?(?::(\d+))?$/;

/**
 * One allow-list entry: a name, a `*.` wildcard, an IPv4 address or CIDR, or a bracketed
 * IPv6 address or CIDR, each with an optional `:port`. The Go side parses the same
 * grammar again (it never trusts its caller); this check names the entry early.
 */
function resolveAllowNetEntry(entry: unknown, field: string): string {
  if (typeof entry !== "string" || entry.trim() !== entry || entry === "") {
    invalid(field, `${field} must be a name, *.wildcard, IP or CIDR with an optional :port, got ${show(entry)}`);
  }
  const bracketed = BRACKETED_IPV6_ENTRY.exec(entry);
  if (bracketed) {
    if (bracketed[3] !== undefined) requireAllowNetPort(bracketed[3], field, entry);
    return entry;
  }
  const colon = entry.lastIndexOf(":");
  const host = colon === -1 ? entry : entry.slice(0, colon);
  if (colon !== -1) requireAllowNetPort(entry.slice(colon + 1), field, entry);
  if (host.includes("/")) parseCidr(host, field);
  else if (/^[0-9.]+$/.test(host)) parseIpv4(host, field);
  else requireDnsName(host.startsWith("*.") ? host.slice(2) : host, field);
  return entry;
}

function requireAllowNetPort(port: string, field: string, entry: string): void {
  if (!/^[1-9][0-9]{0,4}$/.test(port) || Number(port) > 65535) {
    invalid(field, `${field} port must be 1..65535, got ${show(entry)}`);
  }
}

const DNS_LABEL = /^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$/;

function requireDnsName(value: unknown, field: string): string {
  const labels = typeof value === "string" ? value.replace(/\.$/, "").split(".") : [];
  if (typeof value !== "string" || value.length > 253 || !labels.every((label) => DNS_LABEL.test(label))) {
    invalid(field, `${field} must be a DNS name like example.internal, got ${show(value)}`);
  }
  return value;
}

/**
 * An optional list field: absent is empty, anything but an array is refused, and each
 * entry is resolved with its index in the field name (`field[i]`) so errors point at it.
 */
function resolveList<T>(
  value: unknown,
  field: string,
  resolveEntry: (entry: unknown, entryField: string) => T,
  expected = "an array",
): T[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) invalid(field, `${field} must be ${expected}, got ${show(value)}`);
  return value.map((entry: unknown, i) => resolveEntry(entry, `${field}[${i}]`));
}

function optionalBoolean(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") invalid(field, `${field} must be true or false, got ${show(value)}`);
  return value;
}

// ---------------------------------------------------------------------------------------
// IPv4 arithmetic.

interface Subnet {
  readonly text: string;
  readonly network: number;
  readonly broadcast: number;
  contains(ip: number): boolean;
}

/** Parses a dotted-quad IPv4 address to its 32-bit value; leading zeros are refused, as Go's netip does. */
function parseIpv4(value: unknown, field: string): number {
  const octets = typeof value === "string" ? value.split(".") : [];
  if (octets.length !== 4 || !octets.every((o) => /^(0|[1-9][0-9]{0,2})$/.test(o) && Number(o) <= 255)) {
    invalid(field, `${field} must be an IPv4 address like 192.168.127.2, got ${show(value)}`);
  }
  return octets.reduce((acc, o) => acc * 256 + Number(o), 0);
}

function formatIpv4(ip: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(ip / 2 ** shift) % 256).join(".");
}

function parseCidr(value: unknown, field: string): { ip: number; bits: number } {
  const match = typeof value === "string" ? /^([^/]+)\/(0|[1-9][0-9]?)$/.exec(value) : null;
  const bits = match ? Number(match[2]) : NaN;
  if (!match || bits > 32) invalid(field, `${field} must be an IPv4 CIDR like 192.168.127.0/24, got ${show(value)}`);
  return { ip: parseIpv4(match[1], field), bits };
}

function parseSubnet(value: unknown, field: string): Subnet {
  const { ip, bits } = parseCidr(value, field);
  // A network needs room for the gateway, the guest and the host-loopback address.
  if (bits < 1 || bits > 29) invalid(field, `${field} prefix length must be 1..29, got ${show(value)}`);
  const size = 2 ** (32 - bits);
  if (ip % size !== 0) {
    invalid(field, `${field} must be a network address (host bits zero) like ${formatIpv4(ip - (ip % size))}/${bits}, got ${show(value)}`);
  }
  const broadcast = ip + size - 1;
  return { text: value as string, network: ip, broadcast, contains: (addr) => addr >= ip && addr <= broadcast };
}

// ---------------------------------------------------------------------------------------
// Error helpers.

/** Narrows `value` to a plain object, or throws `INVALID_CONFIG` naming `field`. */
export function requireRecord(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    invalid(field, `${field} must be an object, got ${show(value)}`);
  }
  return value as Record<string, unknown>;
}

/** Unknown fields are refused so a misspelt option is reported, not silently ignored. */
function rejectUnknownFields(record: Record<string, unknown>, known: ReadonlySet<string>, prefix: string): void {
  for (const key of Object.keys(record)) {
    if (!known.has(key)) invalid(`${prefix}${key}`, `${prefix}${key} is not a known config field`);
  }
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
