/**
 * A small reader for classic pcap files (what gvisor-tap-vsock's capture writes), plus
 * just enough Ethernet/IPv4/UDP/DHCP decoding to find a DHCP exchange in a capture.
 */
import {
  ETHERNET_HEADER,
  ETHERTYPE_IPV4,
  ETHERTYPE_OFFSET,
  IPV4_HEADER,
  IPV4_PROTOCOL_OFFSET,
  PROTOCOL_UDP,
  UDP_HEADER,
} from "./packet-layout.ts";

/** Link type of Ethernet frames in a pcap header. */
export const LINKTYPE_ETHERNET = 1;
/** Link type of bare IP packets (what gVisor's sniffer link endpoint writes). */
export const LINKTYPE_RAW = 101;

export interface PcapFile {
  /** Microsecond (0xa1b2c3d4) or nanosecond (0xa1b23c4d) resolution magic. */
  readonly magic: number;
  readonly littleEndian: boolean;
  readonly versionMajor: number;
  readonly versionMinor: number;
  readonly snapLength: number;
  readonly linkType: number;
  readonly records: PcapRecord[];
}

export interface PcapRecord {
  readonly timestampSeconds: number;
  readonly capturedLength: number;
  readonly originalLength: number;
  readonly data: Uint8Array;
}

const MAGIC_MICROS = 0xa1b2c3d4;
const MAGIC_NANOS = 0xa1b23c4d;
const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;

/** Parses a pcap file; throws on a bad magic or a record that overruns the file. */
export function parsePcap(bytes: Uint8Array): PcapFile {
  if (bytes.length < GLOBAL_HEADER) throw new Error(`pcap: ${bytes.length} bytes is shorter than the global header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let littleEndian: boolean;
  const le = view.getUint32(0, true);
  if (le === MAGIC_MICROS || le === MAGIC_NANOS) littleEndian = true;
  else if (view.getUint32(0, false) === MAGIC_MICROS || view.getUint32(0, false) === MAGIC_NANOS) littleEndian = false;
  else throw new Error(`pcap: bad magic 0x${le.toString(16)}`);
  const magic = view.getUint32(0, littleEndian);
  const records: PcapRecord[] = [];
  let offset = GLOBAL_HEADER;
  // A capture being written may end inside a record: stop at the last complete one.
  while (offset + RECORD_HEADER <= bytes.length) {
    const capturedLength = view.getUint32(offset + 8, littleEndian);
    const end = offset + RECORD_HEADER + capturedLength;
    if (end > bytes.length) break;
    records.push({
      timestampSeconds: view.getUint32(offset, littleEndian),
      capturedLength,
      originalLength: view.getUint32(offset + 12, littleEndian),
      data: bytes.subarray(offset + RECORD_HEADER, end),
    });
    offset = end;
  }
  return {
    magic,
    littleEndian,
    versionMajor: view.getUint16(4, littleEndian),
    versionMinor: view.getUint16(6, littleEndian),
    snapLength: view.getUint32(16, littleEndian),
    linkType: view.getUint32(20, littleEndian),
    records,
  };
}

/** The pcap format version every classic writer (and libgvproxy) emits. */
export const PCAP_VERSION = { major: 2, minor: 4 } as const;

/**
 * Throws unless `pcap` is what the library's capture promises (DESIGN.md: Ethernet
 * frames): a classic pcap of version 2.4 with LINKTYPE_ETHERNET. A capture of bare IP
 * packets (LINKTYPE_RAW, what gVisor's own sniffer writes) is refused by name.
 */
export function assertEthernetCapture(pcap: PcapFile): void {
  if (pcap.magic !== MAGIC_MICROS && pcap.magic !== MAGIC_NANOS) throw new Error(`pcap: bad magic 0x${pcap.magic.toString(16)}`);
  if (pcap.versionMajor !== PCAP_VERSION.major || pcap.versionMinor !== PCAP_VERSION.minor) {
    throw new Error(`pcap: version ${pcap.versionMajor}.${pcap.versionMinor}, expected ${PCAP_VERSION.major}.${PCAP_VERSION.minor}`);
  }
  if (pcap.linkType !== LINKTYPE_ETHERNET) {
    const name = pcap.linkType === LINKTYPE_RAW ? " (LINKTYPE_RAW, bare IP packets)" : "";
    throw new Error(`pcap: link type ${pcap.linkType}${name}, expected ${LINKTYPE_ETHERNET} (LINKTYPE_ETHERNET)`);
  }
}

/** DHCP message types by option 53 value. */
export const DHCP_MESSAGE_TYPES: Record<number, string> = {
  1: "DISCOVER",
  2: "OFFER",
  3: "REQUEST",
  4: "DECLINE",
  5: "ACK",
  6: "NAK",
  7: "RELEASE",
  8: "INFORM",
};

/**
 * The DHCP message type of a captured record carrying DHCP, or undefined for any other
 * record. `linkType` says whether records start with an Ethernet header or the IP header.
 */
export function dhcpMessageType(frame: Uint8Array, linkType: number = LINKTYPE_ETHERNET): string | undefined {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  let ip: number;
  if (linkType === LINKTYPE_ETHERNET) {
    if (frame.length < ETHERNET_HEADER || view.getUint16(ETHERTYPE_OFFSET) !== ETHERTYPE_IPV4) return undefined;
    ip = ETHERNET_HEADER;
  } else if (linkType === LINKTYPE_RAW) {
    ip = 0;
  } else {
    throw new Error(`dhcpMessageType: unsupported link type ${linkType}`);
  }
  if (frame.length < ip + IPV4_HEADER + UDP_HEADER || frame[ip]! >> 4 !== 4) return undefined;
  const ihl = (frame[ip]! & 0x0f) * 4;
  if (frame[ip + IPV4_PROTOCOL_OFFSET] !== PROTOCOL_UDP) return undefined;
  const udp = ip + ihl;
  const src = view.getUint16(udp);
  const dst = view.getUint16(udp + 2);
  if (!((src === 68 && dst === 67) || (src === 67 && dst === 68))) return undefined;
  const dhcp = udp + UDP_HEADER;
  const options = dhcp + 240; // fixed part (236) + magic cookie (4)
  if (frame.length < options || view.getUint32(dhcp + 236) !== 0x63825363) return undefined;
  for (let i = options; i < frame.length; ) {
    const code = frame[i]!;
    if (code === 255) break;
    if (code === 0) {
      i++;
      continue;
    }
    const length = frame[i + 1] ?? 0;
    if (code === 53 && length === 1) return DHCP_MESSAGE_TYPES[frame[i + 2]!] ?? `type ${frame[i + 2]}`;
    i += 2 + length;
  }
  return undefined;
}
