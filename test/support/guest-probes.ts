/**
 * Typed calls of the guest's probe commands (guest/README.md): raw DNS queries of any
 * type to any server, a TLS handshake with a chosen SNI, HTTP requests with chosen Host
 * headers on one connection. They take addresses, not names, so a test decides exactly
 * where each packet goes.
 */
import type { Guest, Timed } from "./guest.ts";

export interface DnsRecord {
  readonly name: string;
  readonly type: string;
  readonly ttl: number;
  /** Presentation form: an address, a target name, the joined TXT strings, "10 mx.example." */
  readonly data: string;
}

export interface DnsAnswer {
  /** NOERROR, NXDOMAIN, SERVFAIL, REFUSED ... */
  readonly rcode: string;
  readonly answers: DnsRecord[];
}

export interface DnsQuery extends Timed {
  readonly name: string;
  /** A (default), AAAA, TXT, MX, CNAME, ANY ... */
  readonly type?: string;
  /** Server address; the lease's DNS server by default. */
  readonly server?: string;
  readonly port?: number;
  readonly transport?: "udp" | "tcp";
}

/** One DNS query; an NXDOMAIN is an answer, a refused or unanswered query a GuestCommandError. */
export function dnsQuery(guest: Guest, query: DnsQuery): Promise<DnsAnswer> {
  return guest.command("dnsQuery", { ...query });
}

export interface TlsOutcome {
  /** Some byte came back from the other end. */
  readonly serverAnswered: boolean;
  /** The handshake finished (certificates are not verified). */
  readonly handshakeComplete: boolean;
  /** The connection was reset or aborted. */
  readonly reset: boolean;
  readonly error?: string;
  /** DNS names of the server's certificate. */
  readonly certificateNames: string[];
  /** The reply to `data`, read to EOF. */
  readonly response: string;
}

/**
 * Connects to host:port and runs a TLS handshake with `serverName` as SNI, then sends
 * `data` if given. A refused connect rejects (CONNECTION_REFUSED); after a connect the
 * outcome says what happened.
 */
export function tlsHandshake(
  guest: Guest,
  opts: { host: string; port: number; serverName: string; data?: string } & Timed,
): Promise<TlsOutcome> {
  return guest.command("tlsHandshake", { ...opts });
}

export interface HttpExchange {
  /** One per answered request, in order. */
  readonly responses: Array<{ status: number; body: string }>;
  readonly error?: string;
  readonly reset: boolean;
}

/** GET requests with the given Host headers, one after another on one connection to host:port. */
export function httpRequests(
  guest: Guest,
  opts: { host: string; port: number; requests: Array<{ hostHeader: string; path?: string }> } & Timed,
): Promise<HttpExchange> {
  return guest.command("httpRequests", { ...opts });
}

/** One datagram of binary payload (hex), waiting for one answer. */
export function udpRequestHex(
  guest: Guest,
  opts: { host: string; port: number; dataHex: string } & Timed,
): Promise<{ response: string; from: string }> {
  return guest.command("udpRequest", { ...opts });
}
