/**
 * Test preload (bunfig.toml): Bun's per-test timeout defaults to 5 s, and bunfig has no
 * key for it. The suites that start child processes, guests or VMs need more room on a
 * loaded 2-core machine; a hang still fails, only later.
 */
import { setDefaultTimeout } from "bun:test";

setDefaultTimeout(60_000);
