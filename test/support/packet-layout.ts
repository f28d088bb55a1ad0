/**
 * Ethernet, IPv4, TCP and UDP header layout, shared by the helpers that build frames
 * (crafted-packets.ts) and the one that decodes captured ones (pcap.ts).
 */

export const ETHERNET_HEADER = 14;
/** Offset of the EtherType in an Ethernet header. */
export const ETHERTYPE_OFFSET = 12;
export const ETHERTYPE_IPV4 = 0x0800;
/** An IPv4 header without options. */
export const IPV4_HEADER = 20;
/** Offset of the protocol number in an IPv4 header. */
export const IPV4_PROTOCOL_OFFSET = 9;
/** A TCP header without options. */
export const TCP_HEADER = 20;
/** The SYN bit in a TCP header's flags byte. */
export const TCP_FLAG_SYN = 0x02;
export const UDP_HEADER = 8;
export const PROTOCOL_TCP = 6;
export const PROTOCOL_UDP = 17;
