/** The pcap reader the e2e suites rely on, checked against hand-built captures. */
import { describe, expect, test } from "bun:test";
import { assertEthernetCapture, dhcpMessageType, LINKTYPE_ETHERNET, LINKTYPE_RAW, parsePcap } from "./pcap.ts";

/** A DHCP message of `type` inside IPv4/UDP (68 -> 67), optionally behind an Ethernet header. */
function dhcpPacket(type: number, ethernet: boolean): Uint8Array {
  const dhcp = new Uint8Array(240 + 4);
  new DataView(dhcp.buffer).setUint32(236, 0x63825363);
  dhcp.set([53, 1, type, 255], 240);
  const udp = new Uint8Array(8 + dhcp.length);
  const u = new DataView(udp.buffer);
  u.setUint16(0, 68);
  u.setUint16(2, 67);
  u.setUint16(4, udp.length);
  udp.set(dhcp, 8);
  const ip = new Uint8Array(20 + udp.length);
  ip[0] = 0x45;
  ip[9] = 17;
  ip.set(udp, 20);
  if (!ethernet) return ip;
  const frame = new Uint8Array(14 + ip.length);
  new DataView(frame.buffer).setUint16(12, 0x0800);
  frame.set(ip, 14);
  return frame;
}

/** A pcap file with `records`, in the given byte order and link type. */
function pcapFile(records: Uint8Array[], linkType: number, littleEndian: boolean, versionMinor = 4): Uint8Array {
  const size = 24 + records.reduce((n, r) => n + 16 + r.length, 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0xa1b2c3d4, littleEndian);
  v.setUint16(4, 2, littleEndian);
  v.setUint16(6, versionMinor, littleEndian);
  v.setUint32(16, 65535, littleEndian);
  v.setUint32(20, linkType, littleEndian);
  let offset = 24;
  for (const r of records) {
    v.setUint32(offset, 1_700_000_000, littleEndian);
    v.setUint32(offset + 8, r.length, littleEndian);
    v.setUint32(offset + 12, r.length, littleEndian);
    out.set(r, offset + 16);
    offset += 16 + r.length;
  }
  return out;
}

describe("parsePcap", () => {
  test("reads a big-endian Ethernet capture and finds the DHCP types", () => {
    const file = pcapFile([dhcpPacket(1, true), new Uint8Array(60), dhcpPacket(5, true)], LINKTYPE_ETHERNET, false);
    const pcap = parsePcap(file);
    expect(pcap.littleEndian).toBe(false);
    expect(pcap.linkType).toBe(LINKTYPE_ETHERNET);
    expect(pcap.records.map((r) => dhcpMessageType(r.data, pcap.linkType))).toEqual(["DISCOVER", undefined, "ACK"]);
    expect(pcap.records[0]!.timestampSeconds).toBe(1_700_000_000);
  });

  test("reads a little-endian raw-IP capture", () => {
    const pcap = parsePcap(pcapFile([dhcpPacket(2, false), dhcpPacket(3, false)], LINKTYPE_RAW, true));
    expect(pcap.littleEndian).toBe(true);
    expect(pcap.records.map((r) => dhcpMessageType(r.data, LINKTYPE_RAW))).toEqual(["OFFER", "REQUEST"]);
  });

  test("stops at a record cut short by a writer that is still writing", () => {
    const file = pcapFile([dhcpPacket(1, true), dhcpPacket(2, true)], LINKTYPE_ETHERNET, true);
    expect(parsePcap(file.subarray(0, file.length - 10)).records).toHaveLength(1);
  });

  test("rejects a bad magic and a file shorter than its header", () => {
    expect(() => parsePcap(new Uint8Array(24))).toThrow(/bad magic/);
    expect(() => parsePcap(new Uint8Array(10))).toThrow(/shorter than the global header/);
  });
});

describe("assertEthernetCapture", () => {
  test("accepts a version 2.4 Ethernet capture in either byte order", () => {
    for (const littleEndian of [true, false]) {
      expect(() => assertEthernetCapture(parsePcap(pcapFile([dhcpPacket(1, true)], LINKTYPE_ETHERNET, littleEndian)))).not.toThrow();
    }
  });

  test("rejects a raw-IP (LINKTYPE_RAW) capture, naming the link type", () => {
    const raw = parsePcap(pcapFile([dhcpPacket(1, false)], LINKTYPE_RAW, true));
    expect(() => assertEthernetCapture(raw)).toThrow("pcap: link type 101 (LINKTYPE_RAW, bare IP packets), expected 1 (LINKTYPE_ETHERNET)");
  });

  test("rejects any other link type and another format version", () => {
    expect(() => assertEthernetCapture(parsePcap(pcapFile([], 113, true)))).toThrow("pcap: link type 113, expected 1 (LINKTYPE_ETHERNET)");
    expect(() => assertEthernetCapture(parsePcap(pcapFile([], LINKTYPE_ETHERNET, true, 3)))).toThrow("pcap: version 2.3, expected 2.4");
  });
});
