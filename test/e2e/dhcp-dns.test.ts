/**
 * The guest's first minutes on the network: a real DHCP exchange hands it the lease the
 * backend was configured with, and the gateway's DNS answers zone records, reports
 * NXDOMAIN, and forwards other names to the host's resolver, over UDP and TCP.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { lookup } from "node:dns/promises";
import { GuestCommandError, outcome } from "../../guest/driver.ts";
import { startNetwork, type TestNetwork } from "../support/network.ts";

let network: TestNetwork | undefined;
afterEach(async () => {
  await network?.close();
  network = undefined;
});

describe("DHCP", () => {
  test("leases the default guest address with router, DNS, MTU and lease time", async () => {
    network = await startNetwork();
    const lease = await network.guest.dhcp();
    expect(lease.ip).toBe("192.168.127.2");
    expect(lease.prefixLength).toBe(24);
    expect(lease.router).toBe("192.168.127.1");
    expect(lease.dnsServers).toEqual(["192.168.127.1"]);
    expect(lease.serverId).toBe("192.168.127.1");
    expect(lease.mtu).toBe(1500);
    expect(lease.leaseTimeSeconds).toBeGreaterThan(0);
    expect(lease.searchDomains).toEqual([]);
  });

  test("a subnet alone is enough: gateway and guest are its first two addresses, and the guest leases .2", async () => {
    network = await startNetwork({ subnet: "10.0.0.0/24" });
    const { config } = network.backend.instance;
    expect([config.gatewayIp, config.guestIp, config.hostLoopbackIp]).toEqual(["10.0.0.1", "10.0.0.2", "10.0.0.254"]);
    const lease = await network.guest.dhcp();
    expect(lease.ip).toBe("10.0.0.2");
    expect(lease.prefixLength).toBe(24);
    expect(lease.router).toBe("10.0.0.1");
  });

  test("hands out the configured subnet, guest IP, MTU and search domains", async () => {
    network = await startNetwork({
      subnet: "10.20.30.0/24",
      gatewayIp: "10.20.30.1",
      guestIp: "10.20.30.40",
      mtu: 1400,
      dnsSearchDomains: ["example.internal", "corp.example"],
    });
    const lease = await network.guest.dhcp();
    expect(lease.ip).toBe("10.20.30.40");
    expect(lease.router).toBe("10.20.30.1");
    expect(lease.dnsServers).toEqual(["10.20.30.1"]);
    expect(lease.mtu).toBe(1400);
    // The guest configured its NIC from the MTU option, not from its --mtu flag (1500).
    expect(lease.linkMtu).toBe(1400);
    expect(lease.searchDomains).toEqual(["example.internal", "corp.example"]);
  });

  test("the lease is tied to the guest MAC the backend was given", async () => {
    network = await startNetwork({ guestMac: "02:00:00:aa:bb:cc", guestIp: "192.168.127.9" }, { mac: "02:00:00:aa:bb:cc" });
    expect((await network.guest.dhcp()).ip).toBe("192.168.127.9");
  });
});

// A forwarded name must be one the host itself can resolve; find one, or skip.
const forwardCandidates = [process.env.GVPROXY_TEST_DNS_NAME, "registry.npmjs.org", "localhost"].filter(
  (name): name is string => typeof name === "string" && name !== "",
);
async function hostResolvable(): Promise<{ name: string; address: string } | undefined> {
  for (const name of forwardCandidates) {
    try {
      const { address } = await lookup(name, { family: 4 });
      return { name, address };
    } catch {
      // not resolvable here; try the next
    }
  }
  return undefined;
}
const forwarded = await hostResolvable();
if (!forwarded) {
  console.warn(`dhcp-dns: skipping the forwarded-name test: the host resolves none of ${forwardCandidates.join(", ")}`);
}

describe("DNS", () => {
  const zone = {
    name: "example.internal.",
    records: [
      { name: "db", ip: "192.168.127.50" },
      { name: "cache", ip: "192.168.127.51" },
    ],
  };

  test("answers zone records over UDP and TCP", async () => {
    network = await startNetwork({ dnsZones: [zone] });
    await network.guest.dhcp();
    const udp = await network.guest.resolve("db.example.internal");
    expect(udp.addresses).toEqual(["192.168.127.50"]);
    const tcp = await network.guest.resolve("cache.example.internal", { transport: "tcp" });
    expect(tcp.addresses).toEqual(["192.168.127.51"]);
    expect(tcp.transport).toBe("tcp");
  });

  test("reports NXDOMAIN for a name the zone does not hold", async () => {
    network = await startNetwork({ dnsZones: [zone] });
    await network.guest.dhcp();
    const failure = await outcome(network.guest.resolve("missing.example.internal"));
    expect(failure).toBeInstanceOf(GuestCommandError);
    expect((failure as GuestCommandError).code).toBe("NXDOMAIN");
  });

  test("a zone's defaultIp answers any name in it", async () => {
    network = await startNetwork({ dnsZones: [{ name: "wild.internal.", defaultIp: "192.168.127.77" }] });
    await network.guest.dhcp();
    expect((await network.guest.resolve("anything.wild.internal")).addresses).toEqual(["192.168.127.77"]);
  });

  test.skipIf(!forwarded)("forwards other names to the host's resolver", async () => {
    if (!forwarded) return;
    network = await startNetwork({ dnsZones: [zone] });
    await network.guest.dhcp();
    const answer = await network.guest.resolve(forwarded.name);
    expect(answer.addresses).toContain(forwarded.address);
  });

  test("resolving before DHCP fails with NO_LEASE instead of guessing a server", async () => {
    network = await startNetwork();
    const failure = await outcome(network.guest.resolve("db.example.internal"));
    expect((failure as GuestCommandError).code).toBe("NO_LEASE");
  });
});
