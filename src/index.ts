/**
 * bun-gvproxy: userspace networking for microVMs, gvisor-tap-vsock running in-process.
 * The public API (DESIGN.md): {@link GvisorTapBackend}, {@link GvproxyInstance},
 * {@link GvproxyError} and {@link setGvproxyLogger}, with their types.
 */
export { GvisorTapBackend, type NetworkEndpoint, type QemuNetArgsOptions } from "./backend.ts";
export type {
  DnsRecord,
  DnsZone,
  GvproxyConfig,
  GvproxyOptions,
  GvproxyProtocol,
  HostSocket,
  PortMapping,
  PortMappingObject,
  PortProtocol,
  ResolvedGvproxyConfig,
  ResolvedPortMapping,
  ResolvedDnsZone,
  ResolvedSecret,
} from "./config.ts";
export type { Forward, ForwardSelector, ForwardSpec, GuestInfo, PortForward, UnixForward, UnixListenerForward } from "./control.ts";
export type {
  ConnectionEvent,
  DnsEvent,
  GuestEvent,
  GvproxyEndpoint,
  GvproxyEventListener,
  GvproxyEventMap,
  GvproxyEventType,
  GvproxyReason,
} from "./events.ts";
export { GvproxyError, GVPROXY_ERROR_CODES, type GvproxyErrorCode, type GvproxyErrorOptions } from "./errors.ts";
export { GvproxyInstance, type ConnectionType, type GvproxyVersions } from "./instance.ts";
export {
  GVPROXY_LOG_LEVELS,
  GVPROXY_LOG_TAG,
  gvproxyLogStats,
  setGvproxyLogger,
  type GvproxyLogLevel,
  type GvproxyLogStats,
} from "./logging.ts";
export type { Secret, TlsInterception, TlsInterceptionCa } from "./secrets.ts";
export type { EventStats, GuestStats, LinkStats, NetworkMetrics, NetworkStats, PolicyStats, TcpStats } from "./stats.ts";
