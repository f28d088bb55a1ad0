/**
 * Just enough of ELF and Mach-O to check a shipped library from its bytes: what machine
 * it is for, that it is a shared library, and (Mach-O) which system libraries it links,
 * the oldest macOS it accepts and whether it carries a code signature. The darwin
 * libraries cannot be loaded on this machine, so these facts are what can be checked here.
 */

export interface ElfFacts {
  readonly format: "elf";
  /** `e_machine`: 62 is x86-64, 183 is AArch64. */
  readonly machine: number;
  /** `e_type`: 3 is a shared object. */
  readonly type: number;
}

export interface MachOFacts {
  readonly format: "mach-o";
  /** `cputype`: 0x01000007 is x86_64, 0x0100000c is arm64. */
  readonly cpu: number;
  /** `filetype`: 6 is MH_DYLIB. */
  readonly fileType: number;
  /** The install names of every LC_LOAD_DYLIB, in order. */
  readonly loadDylibs: readonly string[];
  /** LC_BUILD_VERSION's minimum OS, e.g. "12.0". */
  readonly minimumOs?: string;
  readonly codeSigned: boolean;
}

const ELF_MAGIC = 0x464c457f; // "\x7fELF", little-endian read
const MH_MAGIC_64 = 0xfeedfacf;
const LC_LOAD_DYLIB = 0xc;
const LC_CODE_SIGNATURE = 0x1d;
const LC_BUILD_VERSION = 0x32;

/** Reads the facts above from a library's bytes; throws on anything else. */
export function libraryFacts(bytes: Buffer): ElfFacts | MachOFacts {
  const magic = bytes.readUInt32LE(0);
  if (magic === ELF_MAGIC) {
    if (bytes[4] !== 2 || bytes[5] !== 1) throw new Error("not a 64-bit little-endian ELF file");
    return { format: "elf", type: bytes.readUInt16LE(16), machine: bytes.readUInt16LE(18) };
  }
  if (magic === MH_MAGIC_64) return machOFacts(bytes);
  throw new Error(`unknown file format (magic 0x${magic.toString(16)})`);
}

function machOFacts(bytes: Buffer): MachOFacts {
  const cpu = bytes.readUInt32LE(4);
  const fileType = bytes.readUInt32LE(12);
  const commands = bytes.readUInt32LE(16);
  const loadDylibs: string[] = [];
  let minimumOs: string | undefined;
  let codeSigned = false;
  let offset = 32; // sizeof(mach_header_64)
  for (let i = 0; i < commands; i++) {
    const command = bytes.readUInt32LE(offset);
    const size = bytes.readUInt32LE(offset + 4);
    if (command === LC_LOAD_DYLIB) {
      const nameOffset = bytes.readUInt32LE(offset + 8);
      const name = bytes.subarray(offset + nameOffset, offset + size);
      loadDylibs.push(name.subarray(0, name.indexOf(0)).toString("utf8"));
    } else if (command === LC_BUILD_VERSION) {
      const version = bytes.readUInt32LE(offset + 12);
      minimumOs = `${version >>> 16}.${(version >>> 8) & 0xff}`;
    } else if (command === LC_CODE_SIGNATURE) {
      codeSigned = true;
    }
    offset += size;
  }
  return { format: "mach-o", cpu, fileType, loadDylibs, minimumOs, codeSigned };
}
