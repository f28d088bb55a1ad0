/**
 * NetworkStats parsing and the metrics derived from it (src/stats.ts).
 */
import { describe, expect, test } from "bun:test";
import { metricsFromStats, parseNetworkStats } from "../../src/stats.ts";
import { expectGvproxyError } from "./helpers.ts";

const wire = {
  bytesSent: 1200,
  bytesReceived: 3400,
  tcp: { currentEstablished: 3, failedConnectionAttempts: 2, retransmits: 5, timeouts: 1, forwardMaxInflightDrop: 0 },
  policy: { denied: 4 },
  guest: { connected: true, connections: 2 },
  link: { framesReceived: 10, framesSent: 12, rxDropped: 1, txDropped: 0, protocolErrors: 1 },
  events: { queued: 0, delivered: 7, dropped: 3 },
};

describe("parseNetworkStats", () => {
  test("keeps every counter of the ABI's stats object", () => {
    expect(parseNetworkStats(wire)).toEqual(wire);
  });

  test.each([
    ["a missing counter", { ...wire, bytesSent: undefined }, /stats\.bytesSent/],
    ["a negative counter", { ...wire, tcp: { ...wire.tcp, retransmits: -1 } }, /stats\.tcp\.retransmits/],
    ["a missing tcp object", { ...wire, tcp: null }, /stats\.tcp is null/],
    ["a missing policy object", { ...wire, policy: undefined }, /stats\.policy is undefined/],
    ["a missing guest object", { ...wire, guest: undefined }, /stats\.guest is undefined/],
    ["a missing link object", { ...wire, link: undefined }, /stats\.link is undefined/],
    ["a missing events object", { ...wire, events: undefined }, /stats\.events is undefined/],
    ["a non-boolean guest flag", { ...wire, guest: { connected: 1, connections: 0 } }, /stats\.guest\.connected/],
    ["a fractional link counter", { ...wire, link: { ...wire.link, rxDropped: 0.5 } }, /stats\.link\.rxDropped/],
    ["not an object", [], /stats is \[\]/],
  ])("%s is an INTERNAL error naming the field", (_name, value, message) => {
    expect(expectGvproxyError(() => parseNetworkStats(value), "INTERNAL").message).toMatch(message);
  });
});

test("metrics map tcpConnections to currentEstablished and tcpConnectionErrors to failedConnectionAttempts", () => {
  expect(metricsFromStats(parseNetworkStats(wire))).toEqual({
    bytesSent: wire.bytesSent,
    bytesReceived: wire.bytesReceived,
    tcpConnections: wire.tcp.currentEstablished,
    tcpConnectionErrors: wire.tcp.failedConnectionAttempts,
  });
});
