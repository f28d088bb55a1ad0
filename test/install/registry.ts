/**
 * A local npm registry on 127.0.0.1 serving a fixed set of tarballs, so `bun add
 * bun-gvproxy` runs exactly as against npmjs.org (packuments carrying each version's
 * `os`/`cpu`, integrity-checked tarballs) without publishing anything. Every package it
 * does not hold is a 404, so an install that needs anything else fails; every request is
 * recorded so a test can tell which tarballs the package manager chose to download.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import type { Server } from "bun";

export interface LocalRegistry {
  /** The registry URL, with a trailing slash. */
  readonly url: string;
  /** Names of the packages whose tarball was downloaded, in order. */
  readonly downloads: readonly string[];
  /** Names that were asked for and are not held (each answered 404). */
  readonly misses: readonly string[];
  stop(): void;
}

interface HeldPackage {
  readonly packument: Record<string, unknown>;
  readonly tarball: Buffer;
}

/** The package.json inside an npm tarball (`package/package.json`). */
export function tarballManifest(tarball: string): Record<string, unknown> & { name: string; version: string } {
  const read = Bun.spawnSync(["tar", "-xzOf", tarball, "package/package.json"], { stdout: "pipe", stderr: "pipe" });
  if (read.exitCode !== 0) throw new Error(`cannot read package/package.json from ${tarball}: ${read.stderr.toString()}`);
  return JSON.parse(read.stdout.toString());
}

/** Starts a registry holding `tarballs` (npm pack output; one version per package). */
export function startLocalRegistry(tarballs: readonly string[]): LocalRegistry {
  const held = new Map<string, HeldPackage>();
  const downloads: string[] = [];
  const misses: string[] = [];
  let server: Server<undefined> | undefined;
  const base = () => `http://127.0.0.1:${server?.port}/`;

  const add = (path: string) => {
    const manifest = tarballManifest(path);
    const tarball = readFileSync(path);
    const file = basename(path);
    const integrity = `sha512-${new Bun.CryptoHasher("sha512").update(tarball).digest("base64")}`;
    const shasum = new Bun.CryptoHasher("sha1").update(tarball).digest("hex");
    const version = { ...manifest, _id: `${manifest.name}@${manifest.version}` };
    held.set(manifest.name, {
      tarball,
      packument: {
        name: manifest.name,
        "dist-tags": { latest: manifest.version },
        versions: { [manifest.version]: { ...version, dist: { tarball: `{base}${manifest.name}/-/${file}`, integrity, shasum } } },
      },
    });
  };
  for (const path of tarballs) add(path);

  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const path = decodeURIComponent(new URL(request.url).pathname.slice(1));
      const tarballAt = path.indexOf("/-/");
      const name = tarballAt >= 0 ? path.slice(0, tarballAt) : path;
      const entry = held.get(name);
      if (entry === undefined) {
        misses.push(name);
        return new Response(JSON.stringify({ error: "Not found" }), { status: 404, headers: { "content-type": "application/json" } });
      }
      if (tarballAt >= 0) {
        downloads.push(name);
        return new Response(entry.tarball, { headers: { "content-type": "application/octet-stream" } });
      }
      // The tarball URLs name this server, whose port is known only once it listens.
      const body = JSON.stringify(entry.packument).replaceAll("{base}", base());
      return new Response(body, { headers: { "content-type": "application/json" } });
    },
  });

  return {
    url: base(),
    downloads,
    misses,
    stop: () => server?.stop(true),
  };
}
