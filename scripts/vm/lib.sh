# shellcheck shell=bash
# Helpers shared by scripts/vm/run-in-vm.sh and scripts/vmtest.sh.
#
# Boots Debian's own kernel packages (the ones users actually run) under qemu/TCG with a
# throw-away busybox initramfs, so the BPF side of connreset can be exercised on kernels other
# than the host's. Sourced, not executed: the caller sets `set -euo pipefail`.
#
# Environment knobs (all optional):
#   CONNRESET_VM_CACHE    kernel cache directory            (default /var/cache/connreset-vmtest)
#   CONNRESET_VM_TIMEOUT  seconds before qemu is killed     (default 900)
#   CONNRESET_VM_ENV      "K=V K2=V2" exported in the guest (values cannot contain blanks)
#   CONNRESET_VM_EXTRA    "host[:guest] ..." files/dirs copied into the guest (guest path
#                         defaults to the absolute host path; relative = under the workdir);
#                         executables among them get their shared libraries too
#   CONNRESET_VM_TOOLS    "ip ss ..." host commands copied with their libraries (same paths)
#   CONNRESET_VM_MODULES  kernel modules to load, deps first (default "veth tcp_diag udp_diag":
#                         veth pairs, and sock_diag/SOCK_DESTROY as `ss -K` uses, which a
#                         normal system autoloads; there is no modprobe autoload here)
#   CONNRESET_VM_WORKDIR  guest working directory           (default: the host's $PWD)
#   CONNRESET_VM_MEM / CONNRESET_VM_SMP                     (default 2G / 2)
#   CONNRESET_VM_APPEND   extra kernel command line words
#   CONNRESET_VM_KEEP     1 = keep the initramfs staging dir (debugging)
#   CONNRESET_VM_NET      TAP[,MAC]: one virtio NIC (eth0 in the guest) on the host's tap device
#                         TAP, which the caller created (in its own network namespace); the
#                         guest then is a second host for TCP (tests/peer); default: no NIC
#   CONNRESET_VM_PVH      0 = boot the compressed vmlinuz through the BIOS instead of the
#                         cached uncompressed vmlinux (PVH entry); slower, for comparison

VM_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_CACHE=${CONNRESET_VM_CACHE:-/var/cache/connreset-vmtest}
VM_SENTINEL=CONNRESET-VM-EXIT

vm_log() { printf '%s: %s\n' "${VM_PROG:-vm}" "$*" >&2; }
vm_die() { vm_log "error: $*"; exit 1; }

# Wall clock with sub-second resolution, for the timing lines.
vm_now() { date +%s.%N; }
vm_elapsed() { awk -v a="$1" -v b="$(vm_now)" 'BEGIN { printf "%.1f", b - a }'; }

# Single-quote a string for /bin/sh ('it'\''s'): the guest reads the files we generate with
# busybox ash, which must see exactly the host's argv, whatever characters it holds.
vm_shquote() {
	local s=${1//\'/\'\\\'\'}
	printf "'%s'" "$s"
}

# ---------------------------------------------------------------------------------------------
# Host packages

# Install Debian packages that are not installed yet. Quiet and idempotent. `apt-get update` is
# run only when the install fails because the package lists are missing or stale, because an
# update is slow and changes which kernel counts as "newest".
vm_apt_install() {
	local missing=() p out
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
			missing+=("$p")
		fi
	done
	((${#missing[@]})) || return 0
	[[ $(id -u) == 0 ]] || vm_die "missing packages ${missing[*]} and not root: install them first"
	vm_log "installing ${missing[*]}"
	if out=$(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" 2>&1); then
		return 0
	fi
	if grep -Eq 'Unable to locate package|has no installation candidate|Failed to fetch|404' <<<"$out"; then
		vm_log "package lists missing or stale, running apt-get update"
		apt-get update -qq >/dev/null || vm_die "apt-get update failed"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			"${missing[@]}" >/dev/null 2>&1 || vm_die "apt-get install ${missing[*]} failed"
		return 0
	fi
	printf '%s\n' "$out" >&2
	vm_die "apt-get install ${missing[*]} failed"
}

# Everything run-in-vm.sh needs on the host. busybox-static (not busybox) because the binary is
# copied into the guest alone, without shared libraries. kmod for depmod: kernel packages do not
# ship modules.dep (their postinst generates it).
vm_ensure_host_tools() {
	vm_apt_install qemu-system-x86 busybox-static cpio gzip xz-utils zstd kmod util-linux coreutils
	[[ -x /bin/busybox ]] || vm_die "/bin/busybox missing after installing busybox-static"
}

# ---------------------------------------------------------------------------------------------
# Kernel packages

# Package-name regex for a kernel series. 6.12 for Debian 12 exists under two names: the
# linux-6.12 source uploaded to bookworm(-security) ("6.12.N+deb12-...") and bookworm-backports
# ("6.12.N+bpo-..."); either is fine, the newest wins.
vm_kernel_regex() {
	case $1 in
	6.1) echo '^linux-image-6\.1\.0-[0-9]+-amd64$' ;;
	6.12) echo '^linux-image-6\.12\.[0-9]+\+(deb12|bpo)-cloud-amd64-unsigned$' ;;
	# Debian 11's kernel (also Amazon Linux 2's series), from the bullseye suite (vm_apt_opts)
	5.10) echo '^linux-image-5\.10\.0-[0-9]+-cloud-amd64-unsigned$' ;;
	*) vm_die "unknown kernel '$1' (known: 5.10 6.1 6.12)" ;;
	esac
}

# apt options for the series' package index: for 6.x none but the sandbox user (the machine's
# bookworm sources); for 5.10 a private bullseye index under the cache, so the machine's apt
# sources and lists are never touched (an `apt-get upgrade` must not see bullseye).
# Sets VM_APT_OPTS.
vm_apt_opts() {
	# APT::Sandbox::User=root: the _apt user cannot write into a root-owned cache.
	VM_APT_OPTS=(-o APT::Sandbox::User=root)
	[[ $1 == 5.10 ]] || return 0
	local d=$VM_CACHE/apt-bullseye uri keyring opt=""
	VM_APT_OPTS+=(-o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts="$d/sources.list.d"
		-o Dir::State::Lists="$d/lists" -o Dir::Cache="$d/cache")
	# Refreshed at most once a day: the suite only gets point releases.
	if [[ -n $(find "$d/lists" -maxdepth 1 -name '*bullseye_main_binary-amd64_Packages*' -mtime -1 2>/dev/null) ]]; then
		return 0
	fi
	mkdir -p "$d/sources.list.d" "$d/lists/partial" "$d/cache/archives/partial"
	# shellcheck disable=SC2016 # $(SITE) is apt's format syntax, not a shell expansion
	uri=$(apt-get indextargets --format '$(SITE) $(RELEASE)' 2>/dev/null |
		awk '$2 == "bookworm" && !u { u = $1 } END { if (u) print u }')
	[[ -n $uri ]] || uri=http://deb.debian.org/debian
	keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	[[ -r $keyring ]] && opt="[signed-by=$keyring] "
	echo "deb ${opt}${uri%/} bullseye main" >"$d/sources.list.d/bullseye.list"
	vm_log "refreshing the private bullseye package index in $d"
	apt-get update -qq "${VM_APT_OPTS[@]}" >/dev/null 2>&1 ||
		vm_log "warning: apt-get update of the bullseye index failed (offline?)"
}

# Print "name version" of the newest matching package known to apt (no network access).
vm_kernel_newest() {
	local regex=$1
	# apt-cache policy takes the (anchored, POSIX ERE) regex itself: one cache load instead of
	# pkgnames + policy. Keep names with a candidate, pick the highest version with dpkg's own
	# ordering (sort -V does not know Debian's ~ and epochs).
	apt-cache "${VM_APT_OPTS[@]}" policy "$regex" 2>/dev/null | awk '
		/^[^ ]/ { sub(/:$/, ""); name = $0 }
		/^  Candidate:/ && $2 != "(none)" { print name, $2 }' |
		{
			local best_n="" best_v="" n v
			while read -r n v; do
				[[ $n =~ $regex ]] || continue
				if [[ -z $best_v ]] || dpkg --compare-versions "$v" gt "$best_v"; then
					best_n=$n best_v=$v
				fi
			done
			[[ -n $best_n ]] && echo "$best_n $best_v"
		}
}

# Add bookworm-backports with the mirror and keyring the system already uses for bookworm, then
# refresh only that source. Only reached when no matching kernel is known to apt at all.
vm_ensure_backports() {
	local f=/etc/apt/sources.list.d/connreset-bookworm-backports.list uri keyring opt=""
	if grep -rqsE '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		return 0
	fi
	[[ $(id -u) == 0 ]] || vm_die "bookworm-backports is not configured and we are not root"
	# The first URI configured for the plain "bookworm" suite, deb822 or one-line style.
	# shellcheck disable=SC2016 # $(SITE) is apt's format syntax, not a shell expansion
	uri=$(apt-get indextargets --format '$(SITE) $(RELEASE)' 2>/dev/null |
		awk '$2 == "bookworm" && !u { u = $1 } END { if (u) print u }')
	[[ -n $uri ]] || uri=http://deb.debian.org/debian
	keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	[[ -r $keyring ]] && opt="[signed-by=$keyring] "
	vm_log "adding bookworm-backports ($uri) in $f"
	echo "deb ${opt}${uri%/} bookworm-backports main" >"$f"
	apt-get update -qq -o Dir::Etc::SourceList="$f" -o Dir::Etc::SourceParts=- \
		-o APT::Get::List-Cleanup=0 >/dev/null || vm_die "apt-get update for backports failed"
}

# vm_kernel_fetch SERIES: make sure the newest kernel of that series is unpacked in the cache.
# Sets VM_KERNEL_DIR (holds vmlinuz and lib/modules/$VM_KVER), VM_KVER, VM_KERNEL_PKG.
# Downloads only when that exact package version is not cached yet; when apt knows no package or
# the download fails (offline), falls back to the newest kernel of the series already cached.
vm_kernel_fetch() {
	local series=$1 regex found name="" ver="" dir tmp deb lockfd
	regex=$(vm_kernel_regex "$series")
	mkdir -p "$VM_CACHE" || vm_die "cannot create cache dir $VM_CACHE"
	# Concurrent runs share the cache: serialize the download/extract step.
	exec {lockfd}>"$VM_CACHE/.lock"
	flock "$lockfd"
	rm -rf "$VM_CACHE"/.fetch.* # left by an interrupted download (we hold the lock)

	vm_apt_opts "$series"
	found=$(vm_kernel_newest "$regex" || true)
	if [[ -z $found && $series == 6.12 ]]; then
		vm_ensure_backports
		found=$(vm_kernel_newest "$regex" || true)
	fi
	if [[ -n $found ]]; then
		read -r name ver <<<"$found"
		dir="$VM_CACHE/${name}_${ver}"
		if [[ ! -f $dir/.complete ]]; then
			tmp=$(mktemp -d "$VM_CACHE/.fetch.XXXXXX")
			vm_log "downloading $name $ver"
			if (cd "$tmp" && apt-get download -qq "${VM_APT_OPTS[@]}" "$name=$ver" >/dev/null 2>&1); then
				deb=$(echo "$tmp"/*.deb)
				vm_kernel_unpack "$deb" "$tmp/root"
				rm -rf "$dir"
				mv "$tmp/root" "$dir"
				echo "$name $ver" >"$dir/.complete"
			else
				vm_log "warning: apt-get download $name=$ver failed, looking for a cached kernel"
			fi
			rm -rf "$tmp"
		fi
	fi
	if [[ -z $name || ! -f $dir/.complete ]]; then
		dir=$(vm_kernel_newest_cached "$regex") ||
			vm_die "no $series kernel: apt knows no package matching $regex and none is cached"
		read -r name ver <"$dir/.complete"
	fi
	VM_KVER=$(cd "$dir/lib/modules" && ls)
	[[ -f $dir/vmlinuz && -n $VM_KVER ]] || vm_die "broken kernel cache entry $dir (delete it)"
	if [[ ! -s $dir/lib/modules/$VM_KVER/modules.dep ]]; then
		# What the package's postinst would do; -b: operate on the cache, not on /lib/modules.
		depmod -b "$dir" "$VM_KVER" || vm_die "depmod for $VM_KVER failed"
	fi
	[[ -e $dir/vmlinux || -e $dir/.no-vmlinux ]] || vm_kernel_extract_vmlinux "$dir"
	flock -u "$lockfd"
	exec {lockfd}>&-

	# shellcheck disable=SC2034 # results for the caller
	VM_KERNEL_DIR=$dir VM_KERNEL_PKG="$name $ver"
}

# Decompress vmlinuz into an ELF vmlinux, once per cached kernel. Under TCG the kernel's own
# decompressor is slow (6.1 is xz: ~3 s of every boot); qemu boots an uncompressed vmlinux
# directly through its PVH entry point (CONFIG_PVH, set in Debian's kernels) and skips both the
# decompression and the BIOS. Same approach as the kernel's scripts/extract-vmlinux. On any
# doubt the result is discarded and vmlinuz is booted as usual (marker .no-vmlinux).
vm_kernel_extract_vmlinux() {
	local dir=$1 name magic dec off
	if ! grep -qx 'CONFIG_PVH=y' "$dir/config" 2>/dev/null; then
		: >"$dir/.no-vmlinux"
		return 0
	fi
	for name in xz zstd gzip; do
		case $name in
		xz) magic='\xfd\x37\x7a\x58\x5a\x00' dec='xz -dcq' ;;
		zstd) magic='\x28\xb5\x2f\xfd' dec='zstd -dcq' ;;
		gzip) magic='\x1f\x8b\x08' dec='gzip -dcq' ;;
		esac
		# Try each place the magic occurs; the payload is the one that decompresses to an ELF.
		# Trailing data after the stream makes the decompressor complain: ignore its status.
		for off in $(LC_ALL=C grep -obUaP "$magic" "$dir/vmlinuz" | cut -d: -f1 | head -n 5); do
			tail -c "+$((off + 1))" "$dir/vmlinuz" | $dec >"$dir/vmlinux.tmp" 2>/dev/null || true
			if [[ $(head -c 4 "$dir/vmlinux.tmp" | od -An -tx1 | tr -d ' ') == 7f454c46 ]]; then
				mv "$dir/vmlinux.tmp" "$dir/vmlinux"
				return 0
			fi
		done
	done
	rm -f "$dir/vmlinux.tmp"
	: >"$dir/.no-vmlinux"
}

vm_kernel_newest_cached() {
	local regex=$1 d n v best="" best_v=""
	for d in "$VM_CACHE"/*/.complete; do
		[[ -f $d ]] || continue
		read -r n v <"$d"
		grep -Eq "$regex" <<<"$n" || continue
		if [[ -z $best_v ]] || dpkg --compare-versions "$v" gt "$best_v"; then
			best=${d%/.complete} best_v=$v
		fi
	done
	[[ -n $best ]] && echo "$best"
}

# Keep only what booting needs: vmlinuz, config (handy to check CONFIG_ options) and the module
# tree (lib/modules or usr/lib/modules, depending on the package generation).
vm_kernel_unpack() {
	local deb=$1 out=$2 x=$2.x
	mkdir -p "$x" "$out/lib/modules"
	dpkg-deb -x "$deb" "$x" || vm_die "dpkg-deb -x $deb failed"
	cp "$x"/boot/vmlinuz-* "$out/vmlinuz" || vm_die "no /boot/vmlinuz-* in $deb"
	cp "$x"/boot/config-* "$out/config" 2>/dev/null || true
	if [[ -d $x/usr/lib/modules ]]; then
		mv "$x"/usr/lib/modules/* "$out/lib/modules/"
	else
		mv "$x"/lib/modules/* "$out/lib/modules/"
	fi
	rm -rf "$x"
}

# ---------------------------------------------------------------------------------------------
# Initramfs

# Make DST (a guest path) writable in STAGE: parent dirs exist, the parent resolves inside STAGE,
# and whatever was there is gone. The removal matters: a busybox applet link at that path would
# otherwise make cp write through it and replace the wrong file.
vm_stage_prepare() {
	local stage=$1 dst=$2 parent
	mkdir -p "$stage$(dirname "$dst")"
	parent=$(realpath "$stage$(dirname "$dst")")
	[[ $parent == "$(realpath "$stage")" || $parent == "$(realpath "$stage")"/* ]] ||
		vm_die "refusing to write $dst: resolves outside the staging dir ($parent)"
	rm -rf "$stage$dst"
}

# Copy FILE to the same path (or DST) under STAGE, following symlinks (the guest gets real files).
vm_stage_file() {
	local stage=$1 src=$2 dst=${3:-$2}
	vm_stage_prepare "$stage" "$dst"
	cp -L "$src" "$stage$dst" || vm_die "cannot copy $src"
}

# Copy the shared objects ldd reports for FILE (and the loader) to their host paths in STAGE.
# A static binary, a script or a data file has no ldd output and needs nothing.
vm_stage_libs() {
	local stage=$1 src=$2 lib
	# "libx.so => /path (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)"; skip linux-vdso.
	while read -r lib; do
		[[ -e $stage$lib ]] || vm_stage_file "$stage" "$lib"
	done < <(ldd "$src" 2>/dev/null | awk '
		$2 == "=>" && $3 ~ /^\// { print $3 }
		$1 ~ /^\// { print $1 }')
}

# Copy an executable plus its libraries, keeping paths.
vm_stage_elf() {
	local stage=$1 src=$2 dst=${3:-$2}
	vm_stage_file "$stage" "$src" "$dst"
	chmod +x "$stage$dst"
	vm_stage_libs "$stage" "$src"
}

# Directory layout mirroring the host: Debian 12 is merged-/usr (/bin -> usr/bin, ...). Same
# layout means paths from ldd and from CONNRESET_VM_TOOLS work unchanged in the guest.
vm_stage_skeleton() {
	local stage=$1 d
	mkdir -p "$stage"/{usr/bin,usr/sbin,usr/lib,dev,proc,sys,tmp,run,root,etc/connreset-vm}
	for d in bin sbin lib lib64; do
		if [[ -L /$d ]]; then
			mkdir -p "$stage/$(readlink "/$d")"
			ln -s "$(readlink "/$d")" "$stage/$d"
		else
			mkdir -p "$stage/$d"
		fi
	done
	chmod 1777 "$stage/tmp"
	# The kernel opens /dev/console for PID 1 before /init can mount devtmpfs.
	if [[ $(id -u) == 0 ]]; then
		mknod -m 600 "$stage/dev/console" c 5 1
		mknod -m 666 "$stage/dev/null" c 1 3
	fi
	# Minimal name service files: glibc resolves "localhost", root and service names from them.
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$stage/etc/hosts"
	# nobody: the user trace and record switch to after attaching (--user)
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$stage/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$stage/etc/group"
	printf 'passwd: files\ngroup: files\nhosts: files\nservices: files\nprotocols: files\n' \
		>"$stage/etc/nsswitch.conf"
	for d in /etc/services /etc/protocols; do
		[[ -r $d ]] && cp "$d" "$stage$d"
	done
	echo connreset-vm >"$stage/etc/hostname"
}

# Every busybox applet as a symlink: init uses a dozen, and tests may shell out to sh/ip/nc/sleep.
# Relative links (ln -r): an absolute /usr/bin/busybox link would point at the HOST's busybox
# while the image is being staged.
vm_stage_busybox() {
	local stage=$1 applet applets
	cp /bin/busybox "$stage/usr/bin/busybox"
	applets=$(/bin/busybox --list-full) || vm_die "/bin/busybox --list-full failed (not busybox-static?)"
	while read -r applet; do
		[[ -e $stage/$applet || -L $stage/$applet ]] ||
			ln -sr "$stage/usr/bin/busybox" "$stage/$applet"
	done <<<"$applets"
}

# Resolve requested modules with modules.dep and stage them (decompressed: busybox insmod does
# not reliably handle .ko.xz/.ko.zst) in load order, dependencies first. Built-in or absent
# modules are skipped with a note; the list for /init goes to etc/connreset-vm/modules.
vm_stage_modules() {
	local stage=$1 kdir=$2 kver=$3 m
	local mdir=$kdir/lib/modules/$kver
	local -A path=() deps=() seen=()
	local order=()
	[[ -f $mdir/modules.dep ]] || { vm_log "warning: no modules.dep for $kver"; return 0; }
	local key val name
	while IFS=: read -r key val; do
		name=${key##*/}
		name=${name%%.ko*}
		name=${name//-/_}
		path[$name]=$key
		deps[$name]=$val
	done <"$mdir/modules.dep"

	_vm_mod_visit() {
		local n=$1 d dn ds=()
		[[ -n ${seen[$n]:-} ]] && return 0
		seen[$n]=1
		read -r -a ds <<<"${deps[$n]:-}"
		# modprobe loads the deps listed last first; the order matters only for nesting depth,
		# the DFS below puts every dependency before its user either way.
		for ((d = ${#ds[@]} - 1; d >= 0; d--)); do
			dn=${ds[d]##*/}
			dn=${dn%%.ko*}
			_vm_mod_visit "${dn//-/_}"
		done
		order+=("$n")
	}

	for m in ${CONNRESET_VM_MODULES-veth tcp_diag udp_diag}; do
		m=${m//-/_}
		if [[ -n ${path[$m]:-} ]]; then
			_vm_mod_visit "$m"
		elif grep -Eq "/${m//_/[-_]}\.ko" "$mdir/modules.builtin" 2>/dev/null; then
			vm_log "module $m is built into $kver"
		else
			vm_log "warning: module $m not found for $kver"
		fi
	done

	: >"$stage/etc/connreset-vm/modules"
	for m in "${order[@]}"; do
		local src=$mdir/${path[$m]} rel=${path[$m]%%.ko*}.ko
		local dst=$stage/lib/modules/$kver/$rel
		mkdir -p "$(dirname "$dst")"
		case $src in
		*.ko.xz) xz -dc "$src" >"$dst" ;;
		*.ko.zst) zstd -qdc "$src" >"$dst" ;;
		*.ko.gz) gzip -dc "$src" >"$dst" ;;
		*) cp "$src" "$dst" ;;
		esac
		echo "/lib/modules/$kver/$rel" >>"$stage/etc/connreset-vm/modules"
	done
	unset -f _vm_mod_visit
}

# vm_build_initramfs OUT KERNEL_DIR KVER PROGRAM [ARGS...]
vm_build_initramfs() {
	local out=$1 kdir=$2 kver=$3 prog=$4
	shift 4
	local stage item host guest kv key workdir=${CONNRESET_VM_WORKDIR:-$PWD} a x
	# Next to OUT (the caller's work dir, removed on exit and on signals) unless kept.
	if [[ ${CONNRESET_VM_KEEP:-0} == 1 ]]; then
		stage=$(mktemp -d "${TMPDIR:-/tmp}/connreset-vm-stage.XXXXXX")
	else
		stage=$(mktemp -d "$(dirname "$out")/stage.XXXXXX")
	fi
	# mktemp -d makes 0700, and this directory becomes the guest's "/": without this, nothing
	# is reachable for a test that drops root (setpriv --reuid=65534 ...).
	chmod 755 "$stage"

	vm_stage_skeleton "$stage"
	vm_stage_busybox "$stage"
	# /bin/sh = the host's shell (dash on Debian), not busybox: busybox ash runs its own applets
	# before searching PATH, so system("ip ...") in a test would never reach an iproute2 copied
	# in with CONNRESET_VM_TOOLS. /init itself runs under busybox explicitly.
	local sh_real
	sh_real=$(realpath /bin/sh)
	if [[ $sh_real != */busybox ]]; then
		vm_stage_elf "$stage" "$sh_real"
		vm_stage_prepare "$stage" /usr/bin/sh
		ln -sr "$stage$sh_real" "$stage/usr/bin/sh"
	fi
	install -m 755 "$VM_LIB_DIR/init" "$stage/init"

	# PROGRAM keeps its absolute host path, and the guest starts in the host's working
	# directory: relative paths in ARGS mean the same thing on both sides.
	prog=$(realpath -s "$prog") # absolute, without ./ and ../ (symlinks kept)
	vm_stage_elf "$stage" "$prog"

	local tool
	for tool in ${CONNRESET_VM_TOOLS:-}; do
		host=$(command -v "$tool") || vm_die "CONNRESET_VM_TOOLS: $tool not found on the host"
		vm_stage_elf "$stage" "$host"
	done

	for item in ${CONNRESET_VM_EXTRA:-}; do
		host=${item%%:*}
		guest=${item#*:}
		[[ $item == *:* ]] || guest=$host
		[[ $host == /* ]] || host=$PWD/$host
		[[ $guest == /* ]] || guest=$workdir/$guest
		[[ -e $host ]] || vm_die "CONNRESET_VM_EXTRA: $host does not exist"
		vm_stage_prepare "$stage" "$guest"
		cp -a -L "$host" "$stage$guest"
		# Executables among the extra files (e.g. the connreset binary the e2e test spawns)
		# get their shared libraries too.
		while IFS= read -r -d '' x; do
			vm_stage_libs "$stage" "$x"
		done < <(find -L "$host" -type f -perm -u+x -print0)
	done

	vm_stage_modules "$stage" "$kdir" "$kver"
	# As on an installed Debian system: libbpf resolves `extern ... __kconfig` symbols from
	# /boot/config-$(uname -r) (Debian kernels have no /proc/config.gz).
	if [[ -f $kdir/config ]]; then
		mkdir -p "$stage/boot"
		cp "$kdir/config" "$stage/boot/config-$kver"
	fi

	# Guest environment and command line as shell files sourced by /init: no quoting limits
	# of the kernel command line, and the kernel does not see (or parse) our variables.
	{
		set -f # CONNRESET_VM_ENV is split on blanks only, never globbed
		for kv in ${CONNRESET_VM_ENV:-}; do
			key=${kv%%=*}
			[[ $kv == *=* && $key =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] ||
				vm_die "CONNRESET_VM_ENV: '$kv' is not NAME=VALUE"
			printf 'export %s=%s\n' "$key" "$(vm_shquote "${kv#*=}")"
		done
		set +f
	} >"$stage/etc/connreset-vm/env"
	mkdir -p "$stage$workdir"
	{
		printf 'cd %s\n' "$(vm_shquote "$workdir")"
		printf 'set --'
		printf ' %s' "$(vm_shquote "$prog")"
		for a in "$@"; do printf ' %s' "$(vm_shquote "$a")"; done
		printf '\n'
	} >"$stage/etc/connreset-vm/cmd"

	# -R 0:0: files owned by root in the guest whoever builds the image. gzip -1: the image is
	# rebuilt on every run, compression ratio matters less than time.
	(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc -R 0:0 --quiet) | gzip -1 >"$out" ||
		vm_die "building the initramfs failed"
	if [[ ${CONNRESET_VM_KEEP:-0} == 1 ]]; then
		vm_log "staging dir kept: $stage"
	else
		rm -rf "$stage"
	fi
}

# ---------------------------------------------------------------------------------------------
# qemu

# Stop the qemu started by vm_run_qemu, if it still runs (pid from its own -pidfile). The pid
# is checked against the command line first: never signal a process that reused the number.
vm_stop_qemu() {
	local pid
	[[ -n ${VM_QEMU_PIDFILE:-} && -s $VM_QEMU_PIDFILE ]] || return 0
	pid=$(<"$VM_QEMU_PIDFILE")
	if [[ $pid =~ ^[0-9]+$ ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null |
		grep -qF -- "-pidfile $VM_QEMU_PIDFILE"; then
		kill "$pid" 2>/dev/null || true
	fi
	rm -f "$VM_QEMU_PIDFILE"
	VM_QEMU_PIDFILE=""
}

# Cleanup for the EXIT trap and the signal handler: stop qemu, remove the work dir VM_WORK.
vm_cleanup() {
	vm_stop_qemu
	[[ -z ${VM_WORK:-} ]] || rm -rf "$VM_WORK"
	VM_WORK=""
}

# INT/TERM: stop qemu, then die by the same signal (not a plain exit status), so that a calling
# shell loop such as vmtest.sh sees the interruption and stops as well. Set once at the start
# of a script: a signal during the kernel fetch or the image build must also end the run.
vm_install_signal_traps() {
	trap vm_cleanup EXIT
	trap 'vm_on_signal INT' INT
	trap 'vm_on_signal TERM' TERM
}
# shellcheck disable=SC2317 # invoked from traps
vm_on_signal() {
	trap '' INT TERM # a second signal (Ctrl-C twice, group kill + forwarded kill) must not cut the cleanup short
	vm_log "interrupted (SIG$1)"
	vm_cleanup
	trap - EXIT "$1" INT TERM
	kill -s "$1" $$
}

# vm_run_qemu KERNEL_DIR INITRD LOG: boot, stream the console to stdout (CRs stripped) and to LOG.
# Returns the guest program's status from the sentinel; 124 on timeout, 125 without a sentinel.
vm_run_qemu() {
	local kdir=$1 initrd=$2 log=$3 timeout=${CONNRESET_VM_TIMEOUT:-900} qrc st
	[[ $timeout =~ ^[0-9]+$ ]] || vm_die "CONNRESET_VM_TIMEOUT must be a number of seconds"
	# console=ttyS0: all output on the serial port = qemu's stdout. panic=-1 + -no-reboot: a
	# panic (or init exiting) ends qemu at once instead of hanging until the timeout.
	# -nodefaults: no VGA/NIC/floppy to probe, the guest only needs loopback (and veth), or the
	# one NIC CONNRESET_VM_NET asks for.
	local append="console=ttyS0 quiet panic=-1 rdinit=/init ${CONNRESET_VM_APPEND:-}"
	local kernel=$kdir/vmlinuz
	[[ -f $kdir/vmlinux && ${CONNRESET_VM_PVH:-1} == 1 ]] && kernel=$kdir/vmlinux
	VM_QEMU_PIDFILE=${log%/*}/qemu.pid
	local net=()
	if [[ -n ${CONNRESET_VM_NET:-} ]]; then
		local tap=${CONNRESET_VM_NET%%,*} mac=52:54:00:12:34:56
		[[ $CONNRESET_VM_NET == *,* ]] && mac=${CONNRESET_VM_NET#*,}
		[[ $tap =~ ^[A-Za-z0-9_.-]{1,15}$ ]] || vm_die "CONNRESET_VM_NET: bad tap name '$tap'"
		net=(-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no"
			-device "virtio-net-pci,netdev=n0,mac=$mac,romfile=")
	fi
	# In the background + wait: bash runs a signal trap only once a foreground command is done,
	# but interrupts `wait` at once. `timeout` puts qemu in its own process group, so Ctrl-C
	# does not reach it: the trap (vm_install_signal_traps) is what stops qemu.
	# stdin from /dev/null: qemu must not grab (and leave raw) the caller's terminal.
	# sed -u, not tr: tr block-buffers into a pipe and the console would arrive in 4 KiB lumps.
	(
		timeout -k 10 "$timeout" qemu-system-x86_64 \
			-accel tcg -cpu max -m "${CONNRESET_VM_MEM:-2G}" -smp "${CONNRESET_VM_SMP:-2}" \
			-nodefaults -no-user-config -display none -serial stdio -no-reboot \
			-pidfile "$VM_QEMU_PIDFILE" "${net[@]}" \
			-kernel "$kernel" -initrd "$initrd" -append "$append" \
			</dev/null 2>&1 | sed -u 's/\r//g' | tee "$log"
		exit "${PIPESTATUS[0]}"
	) &
	local job=$!
	vm_install_signal_traps
	qrc=0
	wait "$job" || qrc=$?
	rm -f "$VM_QEMU_PIDFILE" # qemu is gone; nothing left to stop
	VM_QEMU_PIDFILE=""
	if ((qrc == 124 || qrc == 137)); then
		vm_log "VM did not come back within $timeout s (qemu killed)"
		return 124
	fi
	st=$(sed -n "s/.*$VM_SENTINEL \([0-9][0-9]*\).*/\1/p" "$log" | tail -n 1)
	if [[ -z $st ]]; then
		vm_log "VM ended without reporting an exit status (qemu status $qrc): kernel panic, crash or early init failure; see the console output above"
		return 125
	fi
	return "$st"
}
