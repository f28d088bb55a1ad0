/**
 * The resolved config of `gvproxy_create`'s value (docs/ABI.md "Resolved config"): the
 * configuration the network runs, shape-checked like every envelope value (a field in
 * another shape is `INTERNAL` naming its path, never a TypeError later).
 */
import type { HostSocket, ResolvedDnsZone, ResolvedGvproxyConfig, ResolvedSecret } from "./config.ts";
import { parsePortForward } from "./control.ts";
import { replyChoice, replyCount, replyFlag, replyList, replyRecord, replyText } from "./reply.ts";

/** Checks the resolved config at `path` of a reply. */
export function parseResolvedConfig(value: unknown, path: string): ResolvedGvproxyConfig {
  const c = replyRecord(value, path);
  const text = (key: string) => replyText(c[key], `${path}.${key}`);
  return {
    socketPath: text("socketPath"),
    protocol: replyChoice(c.protocol, ["qemu", "vfkit"] as const, `${path}.protocol`),
    subnet: text("subnet"),
    gatewayIp: text("gatewayIp"),
    guestIp: text("guestIp"),
    gatewayMac: text("gatewayMac"),
    guestMac: text("guestMac"),
    mtu: replyCount(c.mtu, `${path}.mtu`),
    portMappings: replyList(c.portMappings, `${path}.portMappings`, parsePortForward),
    dnsZones: replyList(c.dnsZones, `${path}.dnsZones`, parseZone),
    dnsSearchDomains: replyList(c.dnsSearchDomains, `${path}.dnsSearchDomains`, replyText),
    hostLoopback: replyFlag(c.hostLoopback, `${path}.hostLoopback`),
    hostLoopbackIp: text("hostLoopbackIp"),
    allowNet: c.allowNet === "none" ? "none" : replyList(c.allowNet, `${path}.allowNet`, replyText),
    hostSockets: replyList(c.hostSockets, `${path}.hostSockets`, parseHostSocket),
    captureFile: c.captureFile === undefined ? undefined : text("captureFile"),
    debug: replyFlag(c.debug, `${path}.debug`),
    secrets: replyList(c.secrets, `${path}.secrets`, parseSecret),
  };
}

function parseZone(value: unknown, path: string): ResolvedDnsZone {
  const zone = replyRecord(value, path);
  const records = replyList(zone.records, `${path}.records`, (entry, entryPath) => {
    const record = replyRecord(entry, entryPath);
    return { name: replyText(record.name, `${entryPath}.name`), ip: replyText(record.ip, `${entryPath}.ip`) };
  });
  const name = replyText(zone.name, `${path}.name`);
  return zone.defaultIp === undefined ? { name, records } : { name, records, defaultIp: replyText(zone.defaultIp, `${path}.defaultIp`) };
}

function parseSecret(value: unknown, path: string): ResolvedSecret {
  const secret = replyRecord(value, path);
  return { placeholder: replyText(secret.placeholder, `${path}.placeholder`), hosts: replyList(secret.hosts, `${path}.hosts`, replyText) };
}

function parseHostSocket(value: unknown, path: string): HostSocket {
  const socket = replyRecord(value, path);
  return { port: replyCount(socket.port, `${path}.port`), path: replyText(socket.path, `${path}.path`) };
}
