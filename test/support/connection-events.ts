/**
 * What the network reports for connections, as matchers the tests share: one
 * description of each outcome, so every path that produces it is held to the same event.
 */
import { expect } from "bun:test";

/**
 * A NAT TCP connect the host refused: one `close` saying why (`connect-failed`, the dial
 * error as detail), no `open` before it, not a byte either way.
 */
export function refusedNatConnect(destination: { ip: string; port: number }): ReturnType<typeof expect.objectContaining> {
  return expect.objectContaining({
    phase: "close",
    protocol: "tcp",
    via: "nat",
    reason: "connect-failed",
    detail: expect.stringContaining("refused"),
    destination,
    bytesFromGuest: 0,
    bytesToGuest: 0,
  });
}
