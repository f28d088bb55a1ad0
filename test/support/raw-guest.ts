/**
 * A raw client of a network's guest socket in QEMU stream framing (a 4-byte big-endian
 * length before each frame), for tests that play a misbehaving VM: it writes whatever
 * bytes it is given and reports whether the network dropped the connection.
 */
import type { Socket } from "bun";

/** A connection to a guest socket that sends raw bytes. */
export interface RawGuest {
  /** Writes `bytes` as they are (no framing added), waiting for the socket to take them all. */
  write(bytes: Uint8Array): Promise<void>;
  /** Bytes the network sent to this connection so far. */
  readonly bytesReceived: number;
  /** Whether the network closed (or reset) the connection. */
  readonly closedByPeer: boolean;
  /** Resolves true once the network closes the connection, false if `timeoutMs` passes first. */
  waitForClose(timeoutMs: number): Promise<boolean>;
  /** Closes the connection abruptly from this side. */
  destroy(): void;
}

/** The 4-byte big-endian length prefix of the QEMU stream protocol. */
export function lengthPrefix(length: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, length >>> 0, false);
  return out;
}

/** `payload` with its QEMU length prefix. */
export function qemuFrame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  out.set(lengthPrefix(payload.length), 0);
  out.set(payload, 4);
  return out;
}

/** Parses a MAC address like `5a:94:ef:e4:0c:dd` into its 6 bytes. */
export function macBytes(mac: string): Uint8Array {
  const parts = mac.split(":").map((p) => Number.parseInt(p, 16));
  if (parts.length !== 6 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`bad MAC ${mac}`);
  return Uint8Array.from(parts);
}

/**
 * A minimal Ethernet frame: destination, source, an EtherType nobody handles (0x88b5, the
 * IEEE "local experimental" type) and `payloadBytes` zero bytes.
 */
export function ethernetFrame(destination: string, source: string, payloadBytes = 0): Uint8Array {
  const frame = new Uint8Array(14 + payloadBytes);
  frame.set(macBytes(destination), 0);
  frame.set(macBytes(source), 6);
  frame[12] = 0x88;
  frame[13] = 0xb5;
  return frame;
}

/** Connects to the stream socket at `path`. */
export async function connectRawGuest(path: string): Promise<RawGuest> {
  let bytesReceived = 0;
  let closedByPeer = false;
  let localClose = false;
  const closeWaiters: Array<() => void> = [];
  const drainWaiters: Array<() => void> = [];
  const markClosed = () => {
    if (!localClose) closedByPeer = true;
    for (const wake of closeWaiters.splice(0)) wake();
    for (const wake of drainWaiters.splice(0)) wake();
  };
  const socket: Socket<undefined> = await Bun.connect<undefined>({
    unix: path,
    socket: {
      data(_s, data) {
        bytesReceived += data.length;
      },
      drain() {
        for (const wake of drainWaiters.splice(0)) wake();
      },
      end: markClosed,
      close: markClosed,
      error: markClosed,
    },
  });
  return {
    async write(bytes) {
      let offset = 0;
      while (offset < bytes.length) {
        if (closedByPeer) throw new Error(`the network closed the connection after ${offset} of ${bytes.length} bytes`);
        const written = socket.write(bytes.subarray(offset));
        offset += Math.max(written, 0);
        if (offset < bytes.length) await new Promise<void>((resolve) => drainWaiters.push(resolve));
      }
    },
    get bytesReceived() {
      return bytesReceived;
    },
    get closedByPeer() {
      return closedByPeer;
    },
    waitForClose(timeoutMs) {
      if (closedByPeer) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        closeWaiters.push(() => {
          clearTimeout(timer);
          resolve(closedByPeer);
        });
      });
    },
    destroy() {
      localClose = true;
      socket.terminate();
    },
  };
}
