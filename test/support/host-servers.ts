/**
 * Servers on the host's loopback, on ephemeral ports, for the guest to reach through
 * the NAT (192.168.127.254 -> 127.0.0.1): TCP echo, TCP sink, UDP echo and a fixed-body
 * HTTP server.
 * Each counts what it served so tests can prove the traffic really arrived.
 */
import type { Server, Socket, TCPSocketListener, udp } from "bun";

export interface HostServer {
  readonly port: number;
  /** Connections accepted (TCP), datagrams received (UDP) or requests served (HTTP). */
  readonly hits: number;
  close(): void;
}

/**
 * A TCP server that counts connections, hands what arrives to `onData` and closes its
 * side once the client half-closes.
 */
function startTcpServer(hostname: string, onData: (socket: Socket<undefined>, data: Buffer) => void): HostServer {
  let hits = 0;
  const listener: TCPSocketListener<undefined> = Bun.listen<undefined>({
    hostname,
    port: 0,
    allowHalfOpen: true,
    socket: {
      open() {
        hits++;
      },
      data: onData,
      end(socket: Socket<undefined>) {
        socket.end();
      },
    },
  });
  return {
    port: listener.port,
    get hits() {
      return hits;
    },
    close: () => listener.stop(true),
  };
}

/** A TCP server that echoes every byte and closes its side once the client half-closes. */
export function startTcpEcho(hostname = "127.0.0.1"): HostServer {
  return startTcpServer(hostname, (socket, data) => void socket.write(data));
}

/** A TCP server that counts the bytes it receives and closes once the client half-closes. */
export function startTcpSink(hostname = "127.0.0.1"): HostServer & { readonly received: number } {
  let received = 0;
  const server = startTcpServer(hostname, (_socket, data) => void (received += data.length));
  return {
    port: server.port,
    get hits() {
      return server.hits;
    },
    get received() {
      return received;
    },
    close: () => server.close(),
  };
}

/** A UDP server that sends every datagram back to its sender, prefixed with `prefix`. */
export async function startUdpEcho(prefix = "", hostname = "127.0.0.1"): Promise<HostServer> {
  let hits = 0;
  const socket: udp.Socket<"buffer"> = await Bun.udpSocket({
    hostname,
    socket: {
      data(sock, data, port, address) {
        hits++;
        sock.send(Buffer.concat([Buffer.from(prefix), data]), port, address);
      },
    },
  });
  return {
    port: socket.port,
    get hits() {
      return hits;
    },
    close: () => socket.close(),
  };
}

/** An HTTP server answering every request with `body` (200, text/plain). */
export function startHttpServer(body: string, hostname = "127.0.0.1"): HostServer {
  let hits = 0;
  const server: Server<undefined> = Bun.serve({
    hostname,
    port: 0,
    fetch() {
      hits++;
      return new Response(body, { headers: { "content-type": "text/plain" } });
    },
  });
  return {
    port: server.port ?? 0,
    get hits() {
      return hits;
    },
    close: () => void server.stop(true),
  };
}

/** The host servers a test file starts, to be closed after each test. */
export interface HostServerList {
  /** Registers `server` to be closed by {@link HostServerList.closeAll}; returns it. */
  keep<T extends HostServer>(server: T): T;
  /** Closes every server kept since the last call (call it in afterEach). */
  closeAll(): void;
}

/** An empty {@link HostServerList}. */
export function hostServerList(): HostServerList {
  const kept: HostServer[] = [];
  return {
    keep(server) {
      kept.push(server);
      return server;
    },
    closeAll() {
      for (const server of kept.splice(0)) server.close();
    },
  };
}
