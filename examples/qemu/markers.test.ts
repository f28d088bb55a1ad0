/**
 * The console protocol between the example guest's /init and the host: what each marker
 * line means, and how lines that break the protocol are reported.
 */
import { describe, expect, test } from "bun:test";
import { MalformedMarkerError, parseMarker } from "./markers.ts";

describe("parseMarker", () => {
  test("a lease marker gives address, mask, router, DNS server and search domains", () => {
    expect(parseMarker("GUEST-LEASE ip=192.168.127.9 mask=255.255.255.0 router=192.168.127.1 dns=192.168.127.1 domain=a.internal,b.internal")).toEqual({
      kind: "lease",
      ip: "192.168.127.9",
      mask: "255.255.255.0",
      router: "192.168.127.1",
      dns: "192.168.127.1",
      searchDomains: ["a.internal", "b.internal"],
    });
  });

  test("a lease without search domains has an empty list", () => {
    expect(parseMarker("GUEST-LEASE ip=10.0.0.2 mask=255.0.0.0 router=10.0.0.1 dns=10.0.0.1 domain=")).toMatchObject({ searchDomains: [] });
  });

  test("the serial console's CRLF line ending is not part of the last value", () => {
    expect(parseMarker("GUEST-DNS name=db.vm.internal ip=192.168.127.61\r")).toEqual({ kind: "dns", name: "db.vm.internal", ip: "192.168.127.61" });
  });

  test("a fetch body runs to the end of the line, spaces and key=value lookalikes included", () => {
    expect(parseMarker("GUEST-FETCH ok url=http://192.168.127.254:8080/ body=hello world x=1")).toEqual({
      kind: "fetch",
      url: "http://192.168.127.254:8080/",
      body: "hello world x=1",
    });
  });

  test("an error marker names the step and carries the whole message", () => {
    expect(parseMarker("GUEST-ERROR step=dhcp msg=no DHCP lease on eth0: timeout")).toEqual({
      kind: "error",
      step: "dhcp",
      message: "no DHCP lease on eth0: timeout",
    });
  });

  test("boot, ready and shutdown markers", () => {
    expect(parseMarker("GUEST-BOOT kernel=6.1.0-26-amd64")).toEqual({ kind: "boot", kernel: "6.1.0-26-amd64" });
    expect(parseMarker("GUEST-READY port=80")).toEqual({ kind: "ready", port: 80 });
    expect(parseMarker("GUEST-SHUTDOWN")).toEqual({ kind: "shutdown" });
  });

  test("kernel messages and echoed input are not markers", () => {
    expect(parseMarker("[    0.000000] Linux version 6.1.0-26-amd64")).toBeUndefined();
    expect(parseMarker("poweroff")).toBeUndefined();
    expect(parseMarker("")).toBeUndefined();
    // A marker must start the line: text that merely mentions one is kernel chatter.
    expect(parseMarker("echo GUEST-READY port=80")).toBeUndefined();
  });

  test("a marker of unknown kind is malformed, not silently ignored", () => {
    expect(() => parseMarker("GUEST-REBOOTED now=1")).toThrow(MalformedMarkerError);
  });

  test("a marker missing a required field is malformed and names the field", () => {
    expect(() => parseMarker("GUEST-DNS name=db.vm.internal")).toThrow("missing ip=");
    expect(() => parseMarker("GUEST-LEASE ip=192.168.127.9")).toThrow("missing mask=");
  });

  test("a ready marker whose port is not a number is malformed", () => {
    expect(() => parseMarker("GUEST-READY port=eighty")).toThrow("port is not a number");
  });
});
