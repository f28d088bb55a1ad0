/**
 * Hand-built packets for tests that play a guest crafting what its own stack would
 * never send (a SYN to 127.0.0.1 or 0.0.0.0 through the gateway): an Ethernet frame
 * holding an IPv4 TCP SYN with correct checksums.
 */
import {
  ETHERNET_HEADER,
  ETHERTYPE_IPV4,
  ETHERTYPE_OFFSET,
  IPV4_HEADER,
  IPV4_PROTOCOL_OFFSET,
  PROTOCOL_TCP,
  TCP_FLAG_SYN,
  TCP_HEADER,
} from "./packet-layout.ts";
import { macBytes } from "./raw-guest.ts";

export interface SynSpec {
  readonly sourceMac: string;
  readonly destinationMac: string;
  readonly sourceIp: string;
  readonly destinationIp: string;
  readonly sourcePort: number;
  readonly destinationPort: number;
}

function ipv4Bytes(ip: string): number[] {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`bad IPv4 ${ip}`);
  return parts;
}

/** The Internet checksum (RFC 1071) of `bytes`. */
function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An Ethernet frame carrying a TCP SYN from `spec`'s source to its destination. */
export function tcpSynFrame(spec: SynSpec): Uint8Array {
  const frame = new Uint8Array(ETHERNET_HEADER + IPV4_HEADER + TCP_HEADER);
  const view = new DataView(frame.buffer);
  frame.set(macBytes(spec.destinationMac), 0);
  frame.set(macBytes(spec.sourceMac), 6);
  view.setUint16(ETHERTYPE_OFFSET, ETHERTYPE_IPV4);

  const ip = ETHERNET_HEADER;
  frame[ip] = 0x45; // version 4, 5 words
  view.setUint16(ip + 2, IPV4_HEADER + TCP_HEADER);
  view.setUint16(ip + 4, 0x1234); // identification
  view.setUint16(ip + 6, 0x4000); // don't fragment
  frame[ip + 8] = 64; // TTL
  frame[ip + IPV4_PROTOCOL_OFFSET] = PROTOCOL_TCP;
  frame.set(ipv4Bytes(spec.sourceIp), ip + 12);
  frame.set(ipv4Bytes(spec.destinationIp), ip + 16);
  view.setUint16(ip + 10, checksum(frame.subarray(ip, ip + IPV4_HEADER)));

  const tcp = ip + IPV4_HEADER;
  view.setUint16(tcp, spec.sourcePort);
  view.setUint16(tcp + 2, spec.destinationPort);
  view.setUint32(tcp + 4, 0x01020304); // sequence number
  frame[tcp + 12] = (TCP_HEADER / 4) << 4;
  frame[tcp + 13] = TCP_FLAG_SYN;
  view.setUint16(tcp + 14, 65535); // window
  const pseudo = new Uint8Array(12 + TCP_HEADER);
  pseudo.set(ipv4Bytes(spec.sourceIp), 0);
  pseudo.set(ipv4Bytes(spec.destinationIp), 4);
  pseudo[9] = PROTOCOL_TCP;
  new DataView(pseudo.buffer).setUint16(10, TCP_HEADER);
  pseudo.set(frame.subarray(tcp, tcp + TCP_HEADER), 12);
  view.setUint16(tcp + 16, checksum(pseudo));
  return frame;
}
