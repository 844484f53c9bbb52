# SPDX-License-Identifier: GPL-2.0
#
# ntm: NTMobile for Linux.  `make help` lists the targets.
#
# The kernel module is built for the installed Debian kernel (newest
# /lib/modules/VER with a /boot/vmlinuz-VER, see scripts/lib/kver.sh), never
# for `uname -r`; override with KVER=... (or NTM_KVER=...).  Kernel code runs
# only inside the qemu VM of scripts/vm.

SHELL := /bin/bash

ifeq ($(origin KVER),undefined)
KVER := $(shell scripts/lib/kver.sh)
endif
KDIR ?= /lib/modules/$(KVER)/build
# scripts/vm must boot the kernel the module was built for.
export NTM_KVER := $(KVER)

PREFIX ?= /usr/local
DESTDIR ?=
BUILD := $(CURDIR)/build
JOBS ?= 2

# Test selection for vm-test: make vm-test NTM_TESTS="netlink tunnel"
ifdef NTM_TESTS
export NTM_TESTS
endif

VM := scripts/vm

.PHONY: all kmod kmod-check nlspec ctld ctld-asan unit vm-test check check-debug fuzz bench bench-tp bench-icount bench-scale bench-sig bench-esp bench-ike bench-relay bench-handover \
	bench-mem demo ctld-bin install uninstall install-test deb deb-ctld deb-test system-test deploy-test resolved-deb resolved-test clean help

all: kmod ctld

help:
	@echo 'make [TARGET] [KVER=...]'
	@echo '  all         kmod and ctld (default)'
	@echo '  kmod        build kmod/ntm.ko for kernel $(KVER)'
	@echo '  kmod-check  nlspec, kmod with W=1 and sparse; fails on a warning in kmod/'
	@echo '  nlspec      the netlink spec (Documentation/netlink/specs/ntm.yaml) against'
	@echo '              uapi/linux/ntm.h and the kmod/ policies, and the checker self-test'
	@echo '  ctld        ntmd, ntmctl, benchmark tools in build/ctld (no tests)'
	@echo '  ctld-asan   the same with ASan/UBSan and the unit tests, build/ctld-asan'
	@echo '  unit        unit tests (ctest, ASan/UBSan build)'
	@echo '  vm-test     selftests in the qemu VM (NTM_TESTS="..." selects, NTM_BIN=DIR)'
	@echo '  check       nlspec kmod deb-ctld install-test vm-test system-test unit,'
	@echo '              then a summary; the selftests run the binaries of the packages;'
	@echo '              ctld-asan and deb (the packing) run at nice 19 beside the VMs,'
	@echo '              system-test beside unit'
	@echo '  check-debug every selftest on a debug kernel (KASAN, KFENCE, lockdep, kmemleak,'
	@echo '              DEBUG_ATOMIC_SLEEP) built once from linux-source-6.1 into'
	@echo '              build/debug-kernel/; fails on any splat or leak.  Hours: not in check'
	@echo '  fuzz        libFuzzer campaign (clang): NTM_FUZZ_SECONDS per harness (1800),'
	@echo '              NTM_FUZZ_MERGE=1 adds new coverage to tests/fuzz/corpus'
	@echo '  bench       benchmarks in the VM, JSON into build/bench/; NTM_BENCH_ICOUNT=1:'
	@echo '              the throughput and memory section on the virtual clock (qemu -icount)'
	@echo '  bench-tp    throughput only: every path NTM_BENCH_REPS times (5), interleaved'
	@echo '  bench-icount  bench-tp on the virtual clock (-icount, 1 vCPU): ratios that do'
	@echo '              not depend on the host load'
	@echo '  bench-scale bench-tp with NTM_BENCH_SMP vCPUs (1 2 4), side by side'
	@echo '  bench-sig   signalling benchmark only (DC registrations/s, DNS to answer)'
	@echo '  bench-esp   ESP-in-UDP throughput only: ntm vs xfrm vs veth (AES-GCM-256)'
	@echo '  bench-ike   IKEv2 handshakes/s only: ntmd vs strongSwan charon as responder'
	@echo '  bench-relay Relay Server only: kernel relay vs direct vs socat, memory per session, DNS via a relay'
	@echo '  bench-handover  a node moving between two NATs: time to the first packet on'
	@echo '              the new path, TCP connections lost and stalled (direct, relayed)'
	@echo '  bench-mem   kernel memory per ntm tunnel, WireGuard peer, xfrm SA at 2 and 64 possible CPUs'
	@echo '  demo        build, boot the VM and run scripts/demo.sh, demo-relay.sh, demo-ike.sh'
	@echo '  ctld-bin    ntmd and ntmctl only (the build for installation)'
	@echo '  install     ntm.ko (extra/) and depmod, ntmd, ntmctl, units, sysusers.d,'
	@echo '              tmpfiles.d, modules-load.d, man pages, header, example config'
	@echo '              [PREFIX=/usr/local] [DESTDIR=]'
	@echo '  uninstall   remove what install installed (same PREFIX and DESTDIR)'
	@echo '  install-test  install and uninstall into temporary DESTDIRs, checked'
	@echo '  deb         Debian packages ntm-dkms, ntmd, ntmctl, ntm-dev into build/deb/'
	@echo '              (dpkg-buildpackage on a copy of the tree), then lintian'
	@echo '  deb-ctld    ntmd, ntmctl, benchmark tools built as the packages build them,'
	@echo '              copied to build/deb/bin/; then make deb NTM_DEB_REUSE=1 packs that'
	@echo '  deb-test    DKMS builds and installs ntm.ko from the ntm-dkms package for'
	@echo '              kernel $(KVER), in a scratch tree (after make deb)'
	@echo '  system-test the .debs installed on a VM booted by systemd: DKMS, systemctl'
	@echo '              start/reload/stop ntmd against an AS and DC, purge (after make deb)'
	@echo '  deploy-test Documentation/deploy.rst followed literally in the systemd VM: CA,'
	@echo '              DNS, an AS+DC server, nodes alice (behind a NAT) and bob in'
	@echo '              namespaces, ping by name (after make deb; not part of check)'
	@echo '  resolved-test  the DNS hook with systemd-resolved installed in the systemd VM,'
	@echo '              and the resolv.conf fallback (after make ctld kmod; D99)'
	@echo '  clean       remove build products'

# ---- kernel module ----------------------------------------------------------

kmod:
	@test -d $(KDIR) || { echo "no kernel headers in $(KDIR); run scripts/install-deps.sh" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod modules

# W=1 extra warnings, C=2 sparse on every file (also the ones already built).
# The kernel's own headers are not ours to fix: only kmod/ findings fail.
kmod-check: nlspec
	@test -d $(KDIR) || { echo "no kernel headers in $(KDIR); run scripts/install-deps.sh" >&2; exit 1; }
	@mkdir -p $(BUILD)
	set -o pipefail; $(MAKE) -C $(KDIR) M=$(CURDIR)/kmod W=1 C=2 modules 2>&1 | \
		tee $(BUILD)/kmod-check.log
	@if grep -E '(^|/)kmod/[^:]+:[0-9]+(:[0-9]+)?: (warning|error)' $(BUILD)/kmod-check.log; then \
		echo "kmod-check: FAIL: warnings in kmod/ (above; log: build/kmod-check.log)" >&2; exit 1; \
	else echo "kmod-check: clean (W=1, sparse)"; fi

# The YNL spec of the family against the header and every nla_policy, genl_ops
# entry and nla_put in kmod/ (D84), then the checker's self-test (mutations of
# spec, header and policies it must catch): 3.5 s of CPU, no kernel headers.
nlspec:
	/usr/bin/python3 scripts/nlspec-check.py
	/usr/bin/python3 scripts/nlspec-check.py --self-test

# ---- user space ------------------------------------------------------------

# The optimised build the VM runs: daemon, CLI and the benchmark tools.  Unit
# tests and fuzz replays are built (and run) by ctld-asan only, which halves
# this build's time in make check.
ctld:
	cmake -S ctld -B $(BUILD)/ctld -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNTM_TESTS=OFF
	cmake --build $(BUILD)/ctld -j$(JOBS)

ctld-asan:
	cmake -S ctld -B $(BUILD)/ctld-asan -DCMAKE_BUILD_TYPE=Debug -DNTM_SANITIZE=ON -DNTM_TOOLS=OFF
	cmake --build $(BUILD)/ctld-asan -j$(JOBS)

unit: ctld-asan
	ctest --test-dir $(BUILD)/ctld-asan --output-on-failure -j$(JOBS)

# A libFuzzer campaign over every parser (scripts/fuzz.sh; not in make check,
# which replays the checked-in corpus): make fuzz [FUZZ="dns ike"]
fuzz:
	scripts/fuzz.sh $(FUZZ)

# ---- in the VM -------------------------------------------------------------

# The suites in NTM_VM_JOBS VMs at once (default 2); NTM_TESTS: one VM, those suites.
# NTM_BIN=DIR: run the ntmd and ntmctl (and benchmark tools) of DIR, not
# those of build/ctld, which is then not built (make check: build/deb/bin).
vm-test: kmod $(if $(NTM_BIN),,ctld)
	VM="$(VM)" scripts/lib/vm-test.sh

# The daemon is compiled once for the packages and the selftests (D101):
# deb-ctld builds it with the packages' flags in build/deb/, vm-test and
# install-test run those binaries (NTM_BIN), and deb packs that build
# without compiling again (NTM_DEB_REUSE).
check:
	@MAKE="$(MAKE)" NTM_BIN="$(BUILD)/deb/bin" NTM_DEB_REUSE=1 scripts/lib/check.sh \
		nlspec kmod deb-ctld install-test '&ctld-asan' '&deb' vm-test '+system-test' unit

# Every suite on the debug kernel of scripts/debug-kernel.sh (D89), dealt
# out over NTM_VM_JOBS VMs (2) as vm-test does: the kernel is built once
# (about an hour on 2 cores, nice 19) and cached in build/debug-kernel/,
# ntm.ko is rebuilt against it there (kmod/ntm.ko is left alone).  KASAN and
# lockdep make the guest several times slower under TCG: more memory, a
# longer timeout.  NTM_TESTS="..." selects suites; NTM_VM_JOBS=1 gives one
# VM that prints as it goes.
check-debug:
	nice -n 19 $(MAKE) ctld
	scripts/debug-kernel.sh build
	NTM_TEST_TIMEOUT=$${NTM_TEST_TIMEOUT:-2700} NTM_VM_JOBS=$${NTM_VM_JOBS:-2} \
		NTM_VM_TIMEOUT=$(or $(NTM_DEBUG_TIMEOUT),21600) \
		VM="scripts/debug-kernel.sh vm --mem $(or $(NTM_DEBUG_MEM),6144)" scripts/lib/vm-test.sh

# NTM_BENCH_ICOUNT=1: the guest's clock counts instructions (scripts/vm
# --icount, shift NTM_BENCH_ICOUNT_SHIFT), so rates measured in the guest do
# not follow the host's load; with 1 vCPU (2 hang at boot under -icount).
BENCH_CLOCK = $(if $(filter-out 0,$(NTM_BENCH_ICOUNT)),--icount=$(or $(NTM_BENCH_ICOUNT_SHIFT),2) --smp 1)
NTM_BENCH_SMP ?= 1 2 4

bench: kmod ctld bench-sig bench-esp bench-ike bench-relay bench-handover
	@mkdir -p $(BUILD)/bench
	NTM_BENCH_OUT=$(BUILD)/bench $(VM) $(BENCH_CLOCK) --rw $(BUILD)/bench -- scripts/bench/run.sh
	@echo "bench: results in build/bench/"

# The throughput of veth, ntm (2 ciphers), WireGuard and xfrm: NTM_BENCH_REPS
# rounds (5) of NTM_BENCH_TIME s per iperf3 run (3), the paths interleaved
# (Documentation/benchmarks.rst, Throughput).  bench-icount: on the virtual
# clock; bench-scale: once per vCPU count in NTM_BENCH_SMP, side by side.
bench-tp: kmod ctld
	@d=$(BUILD)/bench/tp; mkdir -p $$d; \
	NTM_BENCH_ONLY=throughput NTM_BENCH_OUT=$$d $(VM) $(BENCH_CLOCK) --rw $$d -- scripts/bench/run.sh \
		>$$d/log.txt 2>&1 || { tail -n 30 $$d/log.txt; exit 1; }; \
	cat $$d/results.txt; echo "bench-tp: results in $$d/"

bench-icount: kmod ctld
	@d=$(BUILD)/bench/icount; mkdir -p $$d; \
	NTM_BENCH_ONLY=throughput NTM_BENCH_OUT=$$d $(VM) --icount=$(or $(NTM_BENCH_ICOUNT_SHIFT),2) --smp 1 \
		--rw $$d -- scripts/bench/run.sh >$$d/log.txt 2>&1 || { tail -n 30 $$d/log.txt; exit 1; }; \
	cat $$d/results.txt; echo "bench-icount: results in $$d/"

bench-scale: kmod ctld
	@for n in $(NTM_BENCH_SMP); do \
		d=$(BUILD)/bench/scale-smp$$n; mkdir -p $$d; echo "bench-scale: $$n vCPUs"; \
		NTM_BENCH_ONLY=throughput NTM_BENCH_OUT=$$d $(VM) --smp $$n --rw $$d -- scripts/bench/run.sh \
			>$$d/log.txt 2>&1 || { tail -n 30 $$d/log.txt; exit 1; }; \
	done
	/usr/bin/python3 scripts/bench/results.py scale \
		$(foreach n,$(NTM_BENCH_SMP),$(BUILD)/bench/scale-smp$(n)/results.json) | tee $(BUILD)/bench/scale.txt
	@echo "bench-scale: results in build/bench/scale-smp*/ and build/bench/scale.txt"

# Kernel memory per ntm tunnel, WireGuard peer and xfrm SA with 2 CPUs
# online and 2 or 64 possible: per-CPU allocations grow with the second
# (Documentation/benchmarks.rst, Memory)
bench-mem: kmod ctld
	@for c in 2 64; do \
		d=$(BUILD)/bench/mem-cpus$$c; mkdir -p $$d; \
		NTM_BENCH_ONLY=memory NTM_BENCH_OUT=$$d $(VM) --maxcpus $$c --rw $$d -- scripts/bench/run.sh >$$d/log.txt 2>&1 || \
			{ tail -n 30 $$d/log.txt; exit 1; }; \
		cat $$d/results.txt; \
	done
	@echo "bench-mem: results in build/bench/mem-cpus{2,64}/"

# ESP-in-UDP: ntm.ko vs xfrm vs plain veth, TCP and 64-byte UDP
# (Documentation/benchmarks.rst, ESP-in-UDP)
bench-esp: kmod
	@mkdir -p $(BUILD)/bench
	NTM_BENCH_OUT=$(BUILD)/bench $(VM) --rw $(BUILD)/bench --timeout 1200 -- scripts/bench/esp.sh
	@echo "bench-esp: results in build/bench/esp-results.*"

# signalling: DC registrations/s at 10 000 nodes, memory per node, DNS query
# to answer with a direct tunnel (Documentation/benchmarks.rst, Signalling)
bench-sig: kmod ctld
	@mkdir -p $(BUILD)/bench
	NTM_BENCH_OUT=$(BUILD)/bench $(VM) --rw $(BUILD)/bench --timeout 1500 -- scripts/bench/sig.sh
	@echo "bench-sig: results in build/bench/sig-results.*"

# IKEv2: handshakes/s with ntmd as responder vs strongSwan's charon, driven
# by ntm-ikebench (Documentation/benchmarks.rst, IKEv2 handshakes)
bench-ike: kmod ctld
	@mkdir -p $(BUILD)/bench
	NTM_BENCH_OUT=$(BUILD)/bench $(VM) --rw $(BUILD)/bench --timeout 900 -- scripts/bench/ike.sh
	@echo "bench-ike: results in build/bench/ike-results.*"

# Relay Server: forwarding rate through the kernel relay vs the direct tunnel
# vs a user-space forwarder (socat), kernel memory per relay session, DNS
# query to answer through a relay and time until the path is direct
# (Documentation/benchmarks.rst, Relay Server)
bench-relay: kmod ctld
	@mkdir -p $(BUILD)/bench
	NTM_BENCH_OUT=$(BUILD)/bench NTM_RELAY_CHART=0 $(VM) --rw $(BUILD)/bench --timeout 1800 -- scripts/bench/relay.sh
	/usr/bin/python3 scripts/bench/relay_results.py chart $(BUILD)/bench/relay-results.json $(BUILD)/bench/relay-results.png
	@echo "bench-relay: results in build/bench/relay-results.*"

# Handover: node B of the relay testbed moves between two NATs under ping,
# iperf3 and a long-lived TCP connection; NTM_HO_REPS moves (5) per case,
# direct and relayed (Documentation/benchmarks.rst, Handover).  The chart
# is drawn on the host (matplotlib's font cache takes minutes in the VM).
bench-handover: kmod ctld
	@mkdir -p $(BUILD)/bench
	NTM_BENCH_OUT=$(BUILD)/bench NTM_HO_CHART=0 $(VM) --rw $(BUILD)/bench --timeout 2400 -- scripts/bench/handover.sh
	/usr/bin/python3 scripts/bench/handover_results.py chart $(BUILD)/bench/handover-results.json $(BUILD)/bench/handover-results.png || \
		echo "bench-handover: no chart (python3-matplotlib missing?)"
	@echo "bench-handover: results in build/bench/handover-results.*"

demo: all
	@if [ ! -x scripts/demo.sh ]; then \
		echo "demo: scripts/demo.sh is not there yet: the demo scenario (two nodes"; \
		echo "behind NATs finding each other by name through a DC, in network"; \
		echo "namespaces inside the VM) comes with the test scripts.  Meanwhile"; \
		echo "'make vm-test' runs what exists, and 'scripts/vm --shell' gives a"; \
		echo "root shell in the VM with ntm.ko installed."; \
		exit 1; \
	fi
	$(VM) -- bash -c 'scripts/demo.sh && scripts/demo-relay.sh && scripts/demo-ike.sh'

# ---- install ---------------------------------------------------------------

# make install [PREFIX=/usr] [DESTDIR=...]; make uninstall with the same two
# (scripts/lib/install.sh, D91).  Unsigned module: the Debian headers have no
# signing key (Debian's kernel requires signatures only under Secure Boot
# lockdown).  The systemd files go where `pkg-config systemd` says systemd
# reads them, whatever PREFIX is; the ExecStart= of the units is $(SBINDIR).
# The build for installation is ctld-bin: only ntmd and ntmctl, no tests,
# fuzzers or benchmark tools.
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/ntm
INCLUDEDIR ?= $(PREFIX)/include
MODDIR ?= /lib/modules/$(KVER)/extra
# kbuild: kmod/ntm.ko for $(KVER); dkms: its sources in $(SRCDIR)/ntm-VERSION
# with a dkms.conf (the ntm-dkms package, D92); none
MODULE_INSTALL ?= kbuild
SRCDIR ?= /usr/src
systemd_var = $(or $(shell pkg-config --variable=$(1) systemd 2>/dev/null),$(2))
ifeq ($(origin UNITDIR),undefined)
UNITDIR := $(call systemd_var,systemdsystemunitdir,/lib/systemd/system)
endif
ifeq ($(origin SYSUSERSDIR),undefined)
SYSUSERSDIR := $(call systemd_var,sysusersdir,/usr/lib/sysusers.d)
endif
ifeq ($(origin TMPFILESDIR),undefined)
TMPFILESDIR := $(call systemd_var,tmpfilesdir,/usr/lib/tmpfiles.d)
endif
ifeq ($(origin MODULESLOADDIR),undefined)
MODULESLOADDIR := $(call systemd_var,modulesloaddir,/usr/lib/modules-load.d)
endif
INSTALL_ENV = MAKE="$(MAKE)" DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" KVER="$(KVER)" KDIR="$(KDIR)" \
	BUILD="$(BUILD)" SBINDIR="$(SBINDIR)" MANDIR="$(MANDIR)" DOCDIR="$(DOCDIR)" \
	INCLUDEDIR="$(INCLUDEDIR)" UNITDIR="$(UNITDIR)" SYSUSERSDIR="$(SYSUSERSDIR)" \
	TMPFILESDIR="$(TMPFILESDIR)" MODULESLOADDIR="$(MODULESLOADDIR)" MODDIR="$(MODDIR)" \
	MODULE_INSTALL="$(MODULE_INSTALL)" SRCDIR="$(SRCDIR)"

ctld-bin:
	cmake -S ctld -B $(BUILD)/ctld -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNTM_TESTS=OFF
	cmake --build $(BUILD)/ctld -j$(JOBS) --target ntmd ntmctl

install: $(if $(filter kbuild,$(MODULE_INSTALL)),kmod) $(if $(NTM_BIN),,ctld-bin)
	$(INSTALL_ENV) scripts/lib/install.sh install

uninstall:
	$(INSTALL_ENV) scripts/lib/install.sh uninstall

# make install and make uninstall into temporary DESTDIRs, checked
# (scripts/lib/install-test.sh); part of make check, after ctld.  Its
# make install builds kmod and ctld-bin if needed.
install-test:
	KVER="$(KVER)" MAKE="$(MAKE)" scripts/lib/install-test.sh

# ---- Debian packages --------------------------------------------------------

# make deb: debian/ built by dpkg-buildpackage on a copy of the tree in
# build/deb/, results there, then lintian (scripts/lib/deb.sh, D92).
deb:
	JOBS="$(JOBS)" scripts/lib/deb.sh $(if $(NTM_DEB_REUSE),reuse)

# ntmd, ntmctl and the benchmark tools built as the packages build them, in
# the tree of make deb; copies in build/deb/bin/ (scripts/lib/deb.sh, D101)
deb-ctld:
	JOBS="$(JOBS)" scripts/lib/deb.sh tree

# DKMS builds ntm.ko from the ntm-dkms package of make deb for $(KVER), in
# a scratch tree, and modinfo shows VERSION (scripts/lib/deb-test.sh).
deb-test:
	KVER="$(KVER)" scripts/lib/deb-test.sh

# The packages of make deb on a host booted by systemd (scripts/vm
# --systemd): dpkg -i, DKMS builds ntm.ko for the VM's kernel, systemctl
# start/reload/stop ntmd against an AS and a DC in namespaces, dpkg --purge
# (tests/system/ntm_host.sh, D96).  No ntm.ko is staged (NTM_KO=): the
# module is the one DKMS builds.
system-test:
	NTM_KO= $(VM) --systemd --timeout 2400 -- tests/system/ntm_host.sh

# Documentation/deploy.rst, block by block, on hosts in network namespaces
# of a VM booted by systemd: each captioned block runs on its host
# (tests/system/ntm_deploy.sh).  Needs make deb first; the module is the
# one DKMS builds (NTM_KO=).
deploy-test:
	NTM_KO= $(VM) --systemd --timeout 2400 -- tests/system/ntm_deploy.sh

# Debian's systemd-resolved, of the host's systemd version, for the VM test
# only: never installed on the host (it would take over /etc/resolv.conf);
# the guest of scripts/vm --systemd installs it on its throw-away overlay.
resolved-deb:
	mkdir -p $(BUILD)/pkgcache
	cd $(BUILD)/pkgcache && ls systemd-resolved_*.deb >/dev/null 2>&1 || \
		apt-get download "systemd-resolved=$$(dpkg-query -W -f='$${Version}' systemd)"

# The node's DNS hook with a real systemd-resolved, and the resolv.conf
# fallback (D99): ntmd of the build tree, no packages needed
resolved-test: resolved-deb
	$(VM) --systemd --timeout 1500 -- tests/system/ntm_resolved.sh

# ---- clean -----------------------------------------------------------------

clean:
	@if [ -d $(KDIR) ] && [ -f kmod/Kbuild ]; then \
		$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod clean; fi
	rm -rf $(BUILD)
