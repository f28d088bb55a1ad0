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

  test("an @ that does not follow settings is part of the path", () => {
    expect(parseBuild("/tmp/build@main/libgvproxy.so")).toEqual({ GVPROXY_LIBRARY_PATH: "/tmp/build@main/libgvproxy.so" });
    expect(parseBuild("GOMAXPROCS=1@/tmp/build@main/lib.so")).toEqual({ GOMAXPROCS: "1", GVPROXY_LIBRARY_PATH: "/tmp/build@main/lib.so" });
  });

  test("the library cannot be given as a setting, and an argument must name one", () => {
    expect(() => parseBuild("GVPROXY_LIBRARY_PATH=/other.so@/tmp/a.so")).toThrow("the library is the path after the @");
    expect(() => parseBuild("GOMAXPROCS=1@")).toThrow('"GOMAXPROCS=1@" names no library');
    expect(() => parseBuild("")).toThrow("names no library");
  });
});
