/**
 * Random network configurations for the property tests: a valid base config with 0..3
 * fields replaced by invalid values, wrong types or weird strings, and now and then an
 * unknown field. Every path it generates lies inside the given temp directory (or is
 * invalid), so a config that happens to be valid creates nothing elsewhere.
 */
import { join } from "node:path";
import type { SeededRandom } from "../support/seeded-random.ts";

/** Strings that tend to break parsers, formatters and path handling. */
export const WEIRD_STRINGS: readonly string[] = [
  "",
  " ",
  "\0",
  "a\0b",
  "é",
  "💥",
  "\u202e",
  "\n",
  "x".repeat(300),
  "../../etc/passwd",
  "%s%n%x",
  "${jndi:ldap://x}",
  "null",
  "undefined",
  "__proto__",
  "constructor",
  "0x7f000001",
  "192.168.127.2\n",
  "1e3",
  "-0",
  "NaN",
  "[object Object]",
];

/** Values of the wrong type for any field. */
export const WRONG_TYPES: readonly unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  2 ** 53 + 2,
  [],
  {},
  [1, 2],
  { a: 1 },
  10n,
  Symbol("field"),
  () => 1,
  new Date(0),
];

const VALID_SUBNETS = [
  { subnet: "192.168.127.0/24", gatewayIp: "192.168.127.1", guestIp: "192.168.127.2" },
  { subnet: "10.0.0.0/8", gatewayIp: "10.0.0.1", guestIp: "10.200.3.4" },
  { subnet: "172.16.5.0/29", gatewayIp: "172.16.5.1", guestIp: "172.16.5.2" },
  { subnet: "10.1.2.0/23", gatewayIp: "10.1.3.1", guestIp: "10.1.2.9" },
] as const;

const BAD_ADDRESSES = ["999.1.1.1", "1.2.3", "1.2.3.4.5", "fd00::1", "01.2.3.4", "localhost", "192.168.127.255", "0.0.0.0"];
const BAD_CIDRS = ["10.0.0.0/33", "10.0.0.1/24", "10.0.0.0/30", "10.0.0.0", "/24", "10.0.0.0/-1", "10.0.0.0/08"];
const BAD_MACS = ["5a:94:ef:e4:0c", "zz:94:ef:e4:0c:ee", "01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "5a94efe40cee", "5a:94:ef:e4:0c:ee:00"];
const BAD_PORTS: readonly unknown[] = [0, 65536, -1, 80.5, Number.NaN, "80", 1e10, null];
const BAD_MTUS: readonly unknown[] = [0, 575, 65521, -1, 1500.5, "1500", Number.POSITIVE_INFINITY];
const BAD_DNS_NAMES = ["bad name", "-bad.internal", `${"a".repeat(64)}.internal`, "", "a..b", "under_score.ok"];

/** Where generated configs may put files. */
export interface ConfigSandbox {
  /** A directory the configs may create sockets and captures in. */
  readonly dir: string;
  /** A regular file inside `dir` (for "path under a file"). */
  readonly file: string;
  /** A socket path something is listening on. */
  readonly liveSocket: string;
}

/** One random config: a plain object, possibly of the wrong shape. */
export function randomConfig(random: SeededRandom, sandbox: ConfigSandbox, index: number): Record<string, unknown> {
  const network = random.pick(VALID_SUBNETS);
  const config: Record<string, unknown> = {
    socketPath: join(sandbox.dir, `n${index}.sock`),
    portMappings: random.chance(0.5) ? [[random.int(20_000, 60_000), 80]] : [],
    ...network,
  };
  if (random.chance(0.3)) config.mtu = random.pick([576, 1500, 9000, 65520]);
  if (random.chance(0.2)) config.dnsZones = [{ name: "example.internal.", records: [{ name: "db", ip: network.guestIp }] }];
  if (random.chance(0.2)) config.dnsSearchDomains = ["example.internal"];
  if (random.chance(0.2)) config.hostLoopback = random.chance(0.5);
  if (random.chance(0.2)) config.protocol = random.pick(["qemu", "vfkit"]);
  const mutations = random.int(0, 3);
  for (let i = 0; i < mutations; i++) mutate(random, sandbox, config);
  return config;
}

/** Replaces one field of `config` with something invalid, mistyped or weird. */
function mutate(random: SeededRandom, sandbox: ConfigSandbox, config: Record<string, unknown>): void {
  const anything = (): unknown => (random.chance(0.5) ? random.pick(WRONG_TYPES) : random.pick(WEIRD_STRINGS));
  // Path fields get weird names only inside the sandbox: a weird string is a valid
  // relative path, and a network created with it would write into the caller's cwd.
  const anyPath = (): unknown =>
    random.chance(0.5) ? random.pick(WRONG_TYPES) : join(sandbox.dir, random.pick(WEIRD_STRINGS).replaceAll("/", "_") || "empty");
  switch (random.int(0, 13)) {
    case 0:
      config.socketPath = random.pick<unknown>([
        undefined,
        "",
        join(sandbox.dir, "with\0nul.sock"),
        join(sandbox.dir, "x".repeat(120)),
        join(sandbox.dir, "missing", "n.sock"),
        join(sandbox.file, "n.sock"),
        sandbox.dir,
        sandbox.liveSocket,
        join(sandbox.dir, random.pick(WEIRD_STRINGS.filter((s) => s !== "" && !s.includes("/")))),
        anyPath(),
      ]);
      return;
    case 1:
      config.subnet = random.chance(0.7) ? random.pick(BAD_CIDRS) : anything();
      return;
    case 2:
      config[random.pick(["gatewayIp", "guestIp", "hostLoopbackIp"])] = random.chance(0.7) ? random.pick(BAD_ADDRESSES) : anything();
      return;
    case 3:
      config[random.pick(["gatewayMac", "guestMac"])] = random.chance(0.7) ? random.pick(BAD_MACS) : anything();
      return;
    case 4:
      config.mtu = random.chance(0.7) ? random.pick(BAD_MTUS) : anything();
      return;
    case 5:
      config.portMappings = randomPortMappings(random, anything);
      return;
    case 6:
      config.dnsZones = random.pick<unknown>([
        [{ name: random.pick(BAD_DNS_NAMES) }],
        [{ name: "ok.internal.", records: [{ name: random.pick(BAD_DNS_NAMES), ip: random.pick(BAD_ADDRESSES) }] }],
        [{ name: "ok.internal.", defaultIp: anything() }],
        [anything()],
        anything(),
      ]);
      return;
    case 7:
      config.dnsSearchDomains = random.chance(0.5) ? [random.pick(BAD_DNS_NAMES)] : anything();
      return;
    case 8:
      config.allowNet = random.chance(0.5) ? [random.pick(BAD_CIDRS)] : anything();
      return;
    case 9:
      config.captureFile = random.pick<unknown>([
        join(sandbox.dir, "missing", "c.pcap"),
        join(sandbox.file, "c.pcap"),
        sandbox.dir,
        join(sandbox.dir, `c${random.int(0, 1e6)}.pcap`),
        join(sandbox.dir, "c".repeat(300)),
        anyPath(),
      ]);
      return;
    case 10:
      config[random.pick(["hostLoopback", "debug", "protocol"])] = anything();
      return;
    case 11:
      // A misspelt or unknown option.
      config[random.pick(["portMapping", "mtU", "gateway", "__proto__x", "extra"])] = anything();
      return;
    case 12:
      config.guestIp = config.gatewayIp;
      return;
    default:
      config.guestMac = "5a:94:ef:e4:0c:dd";
      config.gatewayMac = "5A:94:EF:E4:0C:DD";
  }
}

function randomPortMappings(random: SeededRandom, anything: () => unknown): unknown {
  const port = () => (random.chance(0.6) ? random.int(20_000, 60_000) : random.pick(BAD_PORTS));
  const count = random.int(0, 3);
  const mappings: unknown[] = [];
  for (let i = 0; i < count; i++) {
    mappings.push(
      random.pick<unknown>([
        [port(), port()],
        { hostPort: port(), guestPort: port() },
        { hostPort: port(), guestPort: 80, hostIp: random.pick(["127.0.0.1", "0.0.0.0", "127.0.0.2", "203.0.113.9", ...WEIRD_STRINGS]) },
        { hostPort: port(), guestPort: 80, protocol: random.pick(["tcp", "udp", "sctp", "TCP"]) },
        [port()],
        anything(),
      ]),
    );
  }
  return random.chance(0.1) ? anything() : mappings;
}
