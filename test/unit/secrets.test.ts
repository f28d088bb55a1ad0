/**
 * Secrets' bad input through the public API: every rule of libgvproxy's validation comes
 * back as INVALID_CONFIG naming the field, the value is never quoted, nothing is created
 * (the socket path stays free), and a refused setSecrets changes nothing.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { GvisorTapBackend, GvproxyError, type Secret, type TlsInterception } from "../../src/index.ts";
import { makeTempDir, type TempDir } from "../support/paths.ts";

const VALUE = "sk-test-value-0123456789";
const good: Secret = { placeholder: "GVP_KEY", value: VALUE, hosts: ["api.example.com", "*.example.org"] };

let tmp: TempDir | undefined;
let backend: GvisorTapBackend | undefined;
afterEach(() => {
  backend?.close();
  backend = undefined;
  tmp?.remove();
  tmp = undefined;
});

function socketPath(): string {
  tmp ??= makeTempDir("gvsecrets-unit-");
  return tmp.path("net.sock");
}

function refusal(make: () => unknown): GvproxyError {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(GvproxyError);
    return error as GvproxyError;
  }
  throw new Error("expected a GvproxyError");
}

/** A CA (or, with `ca: false`, a leaf) made with openssl: certificate and key PEM. */
function openssl(ca: boolean): { certPem: string; keyPem: string } {
  const dir = makeTempDir("gvsecrets-ca-");
  try {
    const [cert, key] = [dir.path("cert.pem"), dir.path("key.pem")];
    const made = Bun.spawnSync([
      "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
      "-days", "2", "-subj", "/CN=gvsecrets test", "-addext", `basicConstraints=critical,CA:${ca ? "TRUE" : "FALSE"}`,
    ], { stdout: "ignore", stderr: "pipe" });
    if (made.exitCode !== 0) throw new Error(`openssl failed: ${made.stderr.toString()}`);
    return { certPem: readFileSync(cert, "utf8"), keyPem: readFileSync(key, "utf8") };
  } finally {
    dir.remove();
  }
}

const CA = openssl(true);
const OTHER_CA = openssl(true);
const LEAF = openssl(false);

describe("config", () => {
  const cases: Array<{ name: string; secrets?: readonly Secret[]; tls?: TlsInterception; field: string }> = [
    { name: "empty placeholder", secrets: [{ ...good, placeholder: "" }], field: "secrets[0].placeholder" },
    { name: "duplicate placeholder", secrets: [good, { ...good, hosts: ["b.example"] }], field: "secrets[1].placeholder" },
    { name: "placeholder inside another", secrets: [good, { ...good, placeholder: "GVP_KEY_2" }], field: "secrets[1].placeholder" },
    { name: "value with CR/LF", secrets: [{ ...good, value: `${VALUE}\r\nX-Injected: 1` }], field: "secrets[0].value" },
    { name: "no hosts", secrets: [{ ...good, hosts: [] }], field: "secrets[0].hosts" },
    { name: "an IP as host", secrets: [{ ...good, hosts: ["api.example.com", "192.0.2.1"] }], field: "secrets[0].hosts[1]" },
    { name: "a URL as host", secrets: [{ ...good, hosts: ["https://api.example.com/"] }], field: "secrets[0].hosts[0]" },
    { name: "malformed CA certificate", tls: { ca: { certPem: "not a certificate", keyPem: "x" } }, field: "tlsInterception.ca.certPem" },
    { name: "a certificate that is no CA", tls: { ca: LEAF }, field: "tlsInterception.ca.certPem" },
    { name: "a CA key that is no key", tls: { ca: { certPem: CA.certPem, keyPem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" } }, field: "tlsInterception.ca.keyPem" },
    { name: "another CA's key", tls: { ca: { certPem: CA.certPem, keyPem: OTHER_CA.keyPem } }, field: "tlsInterception.ca.keyPem" },
    { name: "upstream roots without a certificate", tls: { upstreamCaPem: [CA.certPem, "garbage"] }, field: "tlsInterception.upstreamCaPem[1]" },
  ];
  for (const c of cases) {
    test(`${c.name}: INVALID_CONFIG on ${c.field}, nothing created`, () => {
      const path = socketPath();
      const error = refusal(() => new GvisorTapBackend({ socketPath: path, secrets: c.secrets ?? [good], tlsInterception: c.tls }));
      expect(error.code).toBe("INVALID_CONFIG");
      expect(error.field).toBe(c.field);
      expect(error.message).not.toContain(VALUE);
      expect(existsSync(path)).toBe(false);
    });
  }

  test("a CA given in the config is the one caCertificatePem() returns; else one is generated per backend", () => {
    backend = new GvisorTapBackend({ socketPath: socketPath(), secrets: [good], tlsInterception: { ca: CA } });
    expect(backend.caCertificatePem().trim()).toBe(CA.certPem.trim());
    backend.close();
    backend = new GvisorTapBackend({ socketPath: socketPath(), secrets: [good] });
    const generated = backend.caCertificatePem();
    expect(generated).toStartWith("-----BEGIN CERTIFICATE-----");
    expect(backend.caCertificatePem()).toBe(generated);
    const second = new GvisorTapBackend({ socketPath: tmp?.path("second.sock") ?? "" });
    try {
      expect(second.caCertificatePem()).not.toBe(generated);
    } finally {
      second.close();
    }
  });
});

describe("the resolved config and the shapes", () => {
  test("instance.config lists each secret's placeholder and normalised hosts, never the value", () => {
    backend = new GvisorTapBackend({ socketPath: socketPath(), secrets: [{ ...good, hosts: ["API.Example.com.", "*.example.org"] }] });
    expect(backend.instance.config.secrets).toEqual([{ placeholder: "GVP_KEY", hosts: ["api.example.com", "*.example.org"] }]);
    expect(JSON.stringify(backend.instance.config)).not.toContain(VALUE);
  });

  test("a value of the wrong type is INVALID_CONFIG that does not show it", () => {
    const wrong = { ...good, value: 1234567890123 } as unknown as Secret;
    const error = refusal(() => new GvisorTapBackend({ socketPath: socketPath(), secrets: [wrong] }));
    expect(error.field).toBe("secrets[0].value");
    expect(error.message).not.toContain("1234567890123");
    const unknownField = refusal(() => new GvisorTapBackend({ socketPath: socketPath(), secrets: [{ ...good, extra: 1 } as unknown as Secret] }));
    expect(unknownField.field).toBe("secrets[0].extra");
  });
});

describe("setSecrets", () => {
  test("rotates, and a refused list changes nothing", () => {
    backend = new GvisorTapBackend({ socketPath: socketPath(), secrets: [good] });
    expect(backend.setSecrets([good, { placeholder: "GVP_OTHER", value: "v2", hosts: ["other.example"] }])).toBe(2);
    const error = refusal(() => backend?.setSecrets([{ ...good, value: "a\nb" }]));
    expect(error.code).toBe("INVALID_CONFIG");
    expect(error.field).toBe("secrets[0].value");
    expect(backend.setSecrets([])).toBe(0);
  });

  test("after close it is DESTROYED", () => {
    backend = new GvisorTapBackend({ socketPath: socketPath() });
    backend.close();
    expect(refusal(() => backend?.setSecrets([good])).code).toBe("DESTROYED");
    expect(refusal(() => backend?.caCertificatePem()).code).toBe("DESTROYED");
  });
});
