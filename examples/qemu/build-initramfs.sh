#!/usr/bin/env bash
# Assembles the example microVM from Debian packages already installed on this machine:
#   out/kernel             the kernel of linux-image-amd64 (/boot/vmlinuz-<version>), as an
#                          uncompressed ELF when xz-utils can unpack it (see extract_vmlinux)
#   out/initramfs.cpio.gz  busybox-static, the virtio-net modules of that kernel, /init
# Nothing is downloaded. Re-running is cheap: the outputs are rebuilt only when an input
# (kernel, busybox, the guest scripts, this script) changed.
#
# Usage: build-initramfs.sh           build (or confirm up to date)
#        build-initramfs.sh --check   only report missing prerequisites (exit 1 if any)
#
# Environment:
#   QEMU_GUEST_OUT             output directory (default: examples/qemu/out)
#   QEMU_GUEST_KERNEL_VERSION  kernel to use, e.g. 6.1.0-26-amd64 (default: newest in /boot)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${QEMU_GUEST_OUT:-$HERE/out}"
# The network driver and the PCI transport it sits on; their dependencies
# (virtio, virtio_ring, failover, net_failover, ...) are resolved from modules.dep.
WANTED_MODULES=(virtio_pci virtio_net)
GUEST_FILES=("$HERE/init" "$HERE/udhcpc.script" "${BASH_SOURCE[0]}")

die() {
  echo "build-initramfs: error: $*" >&2
  exit 1
}

# The newest kernel in /boot that also has its modules installed, unless one is named.
find_kernel_version() {
  if [[ -n "${QEMU_GUEST_KERNEL_VERSION:-}" ]]; then
    echo "$QEMU_GUEST_KERNEL_VERSION"
    return
  fi
  local image version newest=""
  for image in /boot/vmlinuz-*; do
    [[ -e "$image" ]] || continue
    version="${image#/boot/vmlinuz-}"
    [[ -f "/lib/modules/$version/modules.dep" ]] || continue
    newest="$(printf '%s\n%s\n' "$newest" "$version" | sort -V | tail -n 1)"
  done
  echo "$newest"
}

# Reports every missing prerequisite at once (one line each, naming the Debian package).
check_prerequisites() {
  local problems=() linkage
  if [[ -z "$KVER" ]]; then
    problems+=("no kernel with modules in /boot and /lib/modules; install the Debian package linux-image-amd64")
  elif [[ ! -r "$KERNEL" ]]; then
    problems+=("kernel $KERNEL is missing or unreadable; install the Debian package linux-image-amd64 (or run as root if /boot is not readable)")
  elif [[ ! -f "$MODDIR/modules.dep" ]]; then
    problems+=("$MODDIR/modules.dep is missing; reinstall the Debian package linux-image-$KVER")
  fi
  if [[ ! -x "$BUSYBOX" ]]; then
    problems+=("$BUSYBOX is missing; install the Debian package busybox-static")
  else
    # The guest has no libc: a dynamically linked busybox (Debian package busybox) cannot run.
    linkage="$(ldd "$BUSYBOX" 2>&1 || true)"
    grep -Eq 'not a dynamic executable|statically linked' <<<"$linkage" ||
      problems+=("$BUSYBOX is dynamically linked; install the Debian package busybox-static instead of busybox")
  fi
  command -v cpio >/dev/null || problems+=("cpio is missing; install the Debian package cpio")
  command -v gzip >/dev/null || problems+=("gzip is missing; install the Debian package gzip")
  ((${#problems[@]} == 0)) && return
  printf 'build-initramfs: error: %s\n' "${problems[@]}" >&2
  exit 1
}

# Prints the direct dependencies (paths relative to $MODDIR) of one module path.
module_deps() {
  awk -v mod="$1" -F': *' '$1 == mod { print $2 }' "$MODDIR/modules.dep" | tr ' ' '\n' | sed '/^$/d'
}

# Prints the relative path of a module by name (dashes and underscores are equivalent).
module_path() {
  local name="${1//-/_}"
  awk -F: '{ print $1 }' "$MODDIR/modules.dep" |
    awk -v name="$name" '{ base = $0; sub(/.*\//, "", base); sub(/\.ko(\.[a-z]+)?$/, "", base); gsub(/-/, "_", base); if (base == name) print $0 }' |
    head -n 1
}

# Appends a module after everything it depends on (depth-first), once.
declare -a LOAD_ORDER=()
add_module() {
  local path="$1" dep seen
  for seen in "${LOAD_ORDER[@]}"; do [[ "$seen" == "$path" ]] && return; done
  for dep in $(module_deps "$path"); do add_module "$dep"; done
  LOAD_ORDER+=("$path")
}

resolve_modules() {
  local name path
  for name in "${WANTED_MODULES[@]}"; do
    path="$(module_path "$name")"
    if [[ -z "$path" ]]; then
      # Built into the kernel: nothing to load.
      grep -qE "/${name}\.ko" "$MODDIR/modules.builtin" 2>/dev/null && continue
      die "module $name not found in $MODDIR; the kernel of linux-image-$KVER lacks it"
    fi
    add_module "$path"
  done
}

# QEMU boots an uncompressed ELF vmlinux directly through its PVH entry point (CONFIG_PVH),
# which skips the kernel decompressing itself: under TCG, unpacking Debian's xz-compressed
# bzImage costs about a third of the boot's CPU time. Writes the ELF to $1, or fails (the
# caller then falls back to the bzImage, which boots too, only slower).
extract_vmlinux() {
  local target="$1" offset
  grep -q '^CONFIG_PVH=y' "/boot/config-$KVER" 2>/dev/null || return 1
  # busybox's xzcat lacks the x86 BCJ filter the kernel's payload uses: xz-utils is needed.
  command -v xz >/dev/null || return 1
  # The xz stream magic (FD 37 7A 58 5A 00; bash strings stop at NUL, so without the last byte).
  offset="$(LC_ALL=C grep -abo $'\xfd7zXZ' "$KERNEL" | head -n 1 | cut -d: -f1)"
  [[ -n "$offset" ]] || return 1
  # The payload is followed by more of the bzImage, which xz reports as trailing garbage.
  tail -c +"$((offset + 1))" "$KERNEL" | xz -dc >"$target" 2>/dev/null || true
  [[ "$(head -c 4 "$target" | od -An -c | tr -d ' ')" == '177ELF' ]]
}

# A fingerprint of every input: equal fingerprints mean the outputs are current.
input_fingerprint() {
  {
    echo "kernel $KVER $(stat -c '%s %Y' "$KERNEL")"
    echo "busybox $(stat -c '%s %Y' "$BUSYBOX")"
    echo "xz $(command -v xz || true)"
    for path in "${LOAD_ORDER[@]}"; do echo "module $path $(stat -c '%s %Y' "$MODDIR/$path")"; done
    cat "${GUEST_FILES[@]}"
  } | sha256sum | cut -d' ' -f1
}

assemble_root() {
  local root="$1" applet path
  mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,etc,www,lib/modules}
  cp "$BUSYBOX" "$root/bin/busybox"
  for applet in $("$BUSYBOX" --list); do
    [[ "$applet" == busybox ]] || ln -s busybox "$root/bin/$applet"
  done
  install -m 0755 "$HERE/init" "$root/init"
  install -m 0755 "$HERE/udhcpc.script" "$root/etc/udhcpc.script"
  : >"$root/etc/modules.order"
  for path in "${LOAD_ORDER[@]}"; do
    mkdir -p "$root/lib/modules/$(dirname "$path")"
    cp "$MODDIR/$path" "$root/lib/modules/$path"
    echo "/lib/modules/$path" >>"$root/etc/modules.order"
  done
  echo "$KVER" >"$root/etc/kernel-version"
}

write_outputs() {
  local root
  STAGING="$(mktemp -d "${TMPDIR:-/tmp}/qemu-initramfs.XXXXXX")"
  trap 'rm -rf "$STAGING" "$OUT"/*.tmp.$$' EXIT
  root="$STAGING/root"
  assemble_root "$root"
  mkdir -p "$OUT"
  # newc is the only cpio format the kernel unpacks; owner root and fixed timestamps keep
  # the archive reproducible. Written beside the target, then renamed: never half-written.
  (cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
    cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9 -n >"$OUT/initramfs.cpio.gz.tmp.$$"
  if extract_vmlinux "$OUT/kernel.tmp.$$"; then
    KERNEL_FORMAT="uncompressed ELF (PVH boot)"
  else
    cp "$KERNEL" "$OUT/kernel.tmp.$$"
    KERNEL_FORMAT="compressed bzImage (install xz-utils for a faster boot)"
  fi
  mv -f "$OUT/initramfs.cpio.gz.tmp.$$" "$OUT/initramfs.cpio.gz"
  mv -f "$OUT/kernel.tmp.$$" "$OUT/kernel"
  echo "$FINGERPRINT" >"$OUT/fingerprint"
}

KVER="$(find_kernel_version)"
KERNEL="/boot/vmlinuz-$KVER"
MODDIR="/lib/modules/$KVER"
BUSYBOX="${QEMU_GUEST_BUSYBOX:-/bin/busybox}"
check_prerequisites
[[ "${1:-}" == --check ]] && exit 0
resolve_modules
FINGERPRINT="$(input_fingerprint)"

if [[ -f "$OUT/initramfs.cpio.gz" && -f "$OUT/kernel" &&
  "$(cat "$OUT/fingerprint" 2>/dev/null)" == "$FINGERPRINT" ]]; then
  echo "build-initramfs: up to date ($OUT, kernel $KVER)"
  exit 0
fi

write_outputs
echo "build-initramfs: wrote $OUT/kernel ($KVER, $KERNEL_FORMAT) and $OUT/initramfs.cpio.gz (modules: $(basename -a "${LOAD_ORDER[@]}" | tr '\n' ' '))"
