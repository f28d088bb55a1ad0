/** How bench/compare-libraries.ts reads a build argument: the library and its environment. */
import { describe, expect, test } from "bun:test";
import { parseBuild } from "./compare-libraries.ts";

describe("compare-libraries build arguments", () => {
  test("a path alone is the library the network host loads", () => {
    expect(parseBuild("/tmp/before.so")).toEqual({ GVPROXY_LIBRARY_PATH: "/tmp/before.so" });
  });

  test("settings before the @ go to that build's network process", () => {
    expect(parseBuild("GOMAXPROCS=1,GODEBUG=gctrace=1@build/libgvproxy.so")).toEqual({
      GOMAXPROCS: "1",
      GODEBUG: "gctrace=1",
      GVPROXY_LIBRARY_PATH: "build/libgvproxy.so",
    });
  });

  test("a setting cannot replace the library path", () => {
    expect(parseBuild("GVPROXY_LIBRARY_PATH=/other.so@/tmp/a.so").GVPROXY_LIBRARY_PATH).toBe("/tmp/a.so");
  });

  test("malformed arguments are refused, saying which part", () => {
    expect(() => parseBuild("GOMAXPROCS@/tmp/a.so")).toThrow('"GOMAXPROCS" in "GOMAXPROCS@/tmp/a.so" is not NAME=value');
    expect(() => parseBuild("=1@/tmp/a.so")).toThrow("is not NAME=value");
    expect(() => parseBuild("GOMAXPROCS=1@")).toThrow('"GOMAXPROCS=1@" names no library');
  });
});
