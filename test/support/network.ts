/**
 * A test network: a GvisorTapBackend on a private socket path with a userspace guest
 * attached. Create it in beforeEach and close it in afterEach.
 */
import { GvisorTapBackend, type GvproxyConfig } from "../../src/index.ts";
import { startGuest, type Guest, type StartGuestOptions } from "../../guest/driver.ts";
import { makeTempDir, type TempDir } from "./paths.ts";

export interface TestNetwork {
  readonly backend: GvisorTapBackend;
  readonly guest: Guest;
  readonly socketPath: string;
  readonly tmp: TempDir;
  /** Closes the guest, then the backend, then removes the temp dir. Safe to call twice. */
  close(): Promise<void>;
}

export type NetworkConfig = Omit<GvproxyConfig, "socketPath">;
export type GuestConfig = Omit<StartGuestOptions, "socketPath">;

/** Starts a backend with `config` and connects a guest to it (no DHCP yet). */
export async function startNetwork(config: NetworkConfig = {}, guestConfig: GuestConfig = {}): Promise<TestNetwork> {
  const tmp = makeTempDir();
  const socketPath = tmp.path("net.sock");
  let backend: GvisorTapBackend | undefined;
  try {
    backend = new GvisorTapBackend({ ...config, socketPath });
    // Speak whatever the backend listens with (vfkit datagrams by default on macOS).
    const endpoint = backend.endpoint();
    const protocol = endpoint.connectionType === "unix-dgram" ? "vfkit" : "qemu";
    const guest = await startGuest({ protocol, mac: endpoint.macAddress, ...guestConfig, socketPath });
    const started = backend;
    let closed = false;
    return {
      backend: started,
      guest,
      socketPath,
      tmp,
      async close() {
        if (closed) return;
        closed = true;
        await guest.close();
        started.close();
        tmp.remove();
      },
    };
  } catch (error) {
    backend?.close();
    tmp.remove();
    throw error;
  }
}
