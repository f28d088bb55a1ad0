/**
 * GvproxyError (src/errors.ts) and the envelope rules of src/ffi.ts: how an envelope
 * from libgvproxy becomes a value or an error.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { GVPROXY_ERROR_CODES, GvproxyError } from "../../src/index.ts";
import { unwrapEnvelope } from "../../src/ffi.ts";
import { expectGvproxyError } from "./helpers.ts";

describe("GvproxyError", () => {
  test("is an Error carrying its code, field and cause", () => {
    const cause = new Error("EADDRINUSE");
    const error = new GvproxyError("ADDRESS_IN_USE", "cannot bind 127.0.0.1:8080", { field: "portMappings[0].hostPort", cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("GvproxyError");
    expect(error.code).toBe("ADDRESS_IN_USE");
    expect(error.field).toBe("portMappings[0].hostPort");
    expect(error.message).toBe("cannot bind 127.0.0.1:8080");
    expect(error.cause).toBe(cause);
  });

  test("has no field when it is not about a field", () => {
    const error = new GvproxyError("INTERNAL", "boom");
    expect(error.field).toBeUndefined();
  });

  test("the codes are exactly libgvproxy's (internal/errs) and LIBRARY_NOT_FOUND, which only this side raises", () => {
    const goSource = readFileSync(join(import.meta.dir, "../../libgvproxy/internal/errs/errs.go"), "utf8");
    const goCodes = [...goSource.matchAll(/^\s*\w+\s+Code = "([A-Z_]+)"$/gm)].map((match) => match[1] ?? "");
    expect(goCodes).toContain("INVALID_CONFIG"); // the pattern found the constants at all
    expect<string[]>([...GVPROXY_ERROR_CODES].sort()).toEqual([...goCodes, "LIBRARY_NOT_FOUND"].sort());
  });
});

describe("result envelopes", () => {
  test("ok: the value is returned as is", () => {
    expect(unwrapEnvelope('{"ok":true,"value":{"id":7}}')).toEqual({ id: 7 });
    expect(unwrapEnvelope('{"ok":true,"value":null}')).toBeNull();
  });

  test("an error envelope throws its code, message and field", () => {
    const error = expectGvproxyError(
      () => unwrapEnvelope('{"ok":false,"error":{"code":"SOCKET_IN_USE","message":"socket /tmp/x.sock is in use","field":"socketPath"}}'),
      "SOCKET_IN_USE",
    );
    expect(error.message).toBe("socket /tmp/x.sock is in use");
    expect(error.field).toBe("socketPath");
  });

  test("an unknown code becomes INTERNAL and keeps the original code in the message", () => {
    const error = expectGvproxyError(() => unwrapEnvelope('{"ok":false,"error":{"code":"EWHAT","message":"odd"}}'), "INTERNAL");
    expect(error.message).toBe("EWHAT: odd");
  });

  test.each(["not json", "42", '{"ok":false}', '{"ok":"yes","value":1}', "null"])("malformed envelope %p is INTERNAL", (text) => {
    expectGvproxyError(() => unwrapEnvelope(text), "INTERNAL");
  });
});
