/**
 * The prebuilt platforms: one npm package per operating system and CPU, each holding only
 * libgvproxy for that platform (esbuild's layout). The main package lists them all as
 * `optionalDependencies`; the package manager installs the one whose `os`/`cpu` match, and
 * `src/ffi.ts` finds it at run time. `scripts/dist.ts` builds and packs them from this table.
 */

/** One prebuilt platform package. */
export interface PrebuiltPlatform {
  /** The npm package name, e.g. `bun-gvproxy-linux-x64`. */
  readonly packageName: string;
  /** `process.platform` and the package.json `os` value. */
  readonly os: "linux" | "darwin";
  /** `process.arch` and the package.json `cpu` value. */
  readonly cpu: "x64" | "arm64";
  /** The library file at the package's root. */
  readonly libraryFile: "libgvproxy.so" | "libgvproxy.dylib";
}

/** The name of the main package; every platform package is named `<main>-<os>-<cpu>`. */
export const MAIN_PACKAGE_NAME = "bun-gvproxy";

function platform(os: PrebuiltPlatform["os"], cpu: PrebuiltPlatform["cpu"]): PrebuiltPlatform {
  const libraryFile = os === "darwin" ? "libgvproxy.dylib" : "libgvproxy.so";
  return { packageName: `${MAIN_PACKAGE_NAME}-${os}-${cpu}`, os, cpu, libraryFile };
}

/** Every platform a prebuilt package exists for. */
export const PREBUILT_PLATFORMS: readonly PrebuiltPlatform[] = [
  platform("linux", "x64"),
  platform("linux", "arm64"),
  platform("darwin", "arm64"),
  platform("darwin", "x64"),
];

/** The prebuilt package for `os`/`cpu` (default: this process's), or undefined when there is none. */
export function prebuiltPlatform(os: string = process.platform, cpu: string = process.arch): PrebuiltPlatform | undefined {
  return PREBUILT_PLATFORMS.find((candidate) => candidate.os === os && candidate.cpu === cpu);
}
