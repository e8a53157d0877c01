# SPDX-License-Identifier: GPL-2.0-only
# Build like libbpf-bootstrap: everything generated goes to .output/, BPF objects become
# skeletons that the userspace binary includes, and `make V=1` shows the real commands.

OUTPUT     := .output
CLANG      ?= clang
BPFTOOL    ?= bpftool
PKG_CONFIG ?= pkg-config
ARCH       ?= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VMLINUX_H  := vmlinux/$(ARCH)/vmlinux.h
VERSION    := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

PKGS       := libbpf libmnl json-c
# Recursive (=), not simple: `make deps all` installs the packages before these
# are first expanded, inside a recipe.
PKG_CFLAGS  = $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS    = $(shell $(PKG_CONFIG) --libs $(PKGS))

CFLAGS     ?= -g -O2
CFLAGS     += -Wall -Wextra -Werror -Wno-unused-parameter -std=gnu11
CPPFLAGS   += -D_GNU_SOURCE -DMPTCP_UPGRADE_VERSION='"$(VERSION)"' \
	      -Iinclude -Iuser -I$(OUTPUT) $(PKG_CFLAGS)
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	      -Iinclude -Ibpf -Ivmlinux/$(ARCH)

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
SKELS      := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))

# The source tree names the architecture: user/policy/ (the policy language),
# user/common/ (paths, output, cgroup/netns/proc helpers), user/bridge/ (the
# socket-option bridge both engines load), user/attach/ and user/run/ (the two
# engines), user/stats/, user/status/ and user/check/ (the commands that observe
# them). The policy parser and the output helpers are linked into the tests and
# the benchmark too, so they live apart from the command modules.
LIB_SRCS   := user/policy/policy.c user/policy/policy_addr.c user/policy/policy_file.c \
	      user/policy/policy_trie.c \
	      user/common/output.c user/common/sys.c user/common/jsonw.c user/common/sha256.c
CMD_SRCS   := $(filter-out $(LIB_SRCS),$(sort $(wildcard user/*.c user/*/*.c)))
LIB_OBJS   := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(LIB_SRCS))
CMD_OBJS   := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(CMD_SRCS))
TEST_BINS  := $(OUTPUT)/selftests/test_policy $(OUTPUT)/selftests/mu_sock \
	      $(OUTPUT)/selftests/test_tc_rewrite $(OUTPUT)/selftests/test_tc_paths \
	      $(OUTPUT)/selftests/test_diag $(OUTPUT)/selftests/test_procfs \
	      $(OUTPUT)/selftests/run_probe \
	      $(OUTPUT)/selftests/run_probe.static $(OUTPUT)/selftests/mu_sock.static \
	      $(OUTPUT)/selftests/bench_sock \
	      $(OUTPUT)/selftests/run_edges $(OUTPUT)/selftests/mu_handover \
	      $(OUTPUT)/selftests/seccomp_eval $(OUTPUT)/selftests/seccomp_listener \
	      $(OUTPUT)/selftests/test_kube
# The end-to-end suites also hand an older ABI's engine over (test_upgrade.sh).
VM_BINS     = $(OUTPUT)/old-abi/$(APP)
BENCH_BINS := $(OUTPUT)/selftests/bench_policy $(OUTPUT)/selftests/bench_sock \
	      $(OUTPUT)/selftests/mu_sock $(OUTPUT)/selftests/bench_notif $(OUTPUT)/selftests/bench_floor \
	      $(OUTPUT)/selftests/mu_sock.static $(OUTPUT)/selftests/run_edges

ifeq ($(V),1)
	Q =
	msg =
else
	Q = @
	msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

APP := mptcp-upgrade

# Installation layout; DESTDIR is prepended to all of them.
PREFIX        ?= /usr/local
SBINDIR       ?= $(PREFIX)/sbin
MANDIR        ?= $(PREFIX)/share/man
SYSCONFDIR    ?= /etc
UNITDIR       ?= $(PREFIX)/lib/systemd/system
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
DOCDIR        ?= $(PREFIX)/share/doc/mptcp-upgrade
DATADIR       ?= $(PREFIX)/share/mptcp-upgrade
UNITS         := mptcp-upgrade@.service mptcp-upgrade-reload@.service mptcp-upgrade@.path \
		 mptcp-upgrade-follow.service mptcp-upgrade-textfile.service \
		 mptcp-upgrade-textfile.timer mptcp-upgrade-agent.service \
		 mptcp-upgrade-exporter.service

# The seccomp profile for containers (docs/containers.md): the runtime's default
# profile that golang-github-containers-common installs, with the run engine's
# notifications merged in by `mptcp-upgrade seccomp-profile`. Built only where
# that base is, since the repository carries no runtime's profile of its own.
SECCOMP_BASE    ?= /usr/share/containers/seccomp.json
SECCOMP_PROFILE := $(OUTPUT)/seccomp/mptcp-upgrade.json
SECCOMP_BUILT    = $(if $(wildcard $(SECCOMP_BASE)),$(SECCOMP_PROFILE))

.PHONY: all
all: $(APP) $(SECCOMP_BUILT)

$(SECCOMP_PROFILE): $(APP) $(SECCOMP_BASE)
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)./$(APP) seccomp-profile --base $(SECCOMP_BASE) --output $@

# Build and test dependencies from Debian's packages (needs root when some are missing).
.PHONY: deps
deps:
	$(Q).ci/install-deps

# The main job on a built-in example: README.md's first command.
.PHONY: demo
demo: $(APP) $(OUTPUT)/selftests/mu_sock
	$(Q)selftests/demo.sh

$(APP): $(LIB_OBJS) $(CMD_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(PKG_LIBS) -lpthread -o $@

# Every build step waits for the output directories, and they wait for `deps`
# when it was asked for, so that `make -j deps check` installs before it builds.
$(OUTPUT) $(OUTPUT)/user $(OUTPUT)/selftests: | $(filter deps,$(MAKECMDGOALS))
	$(Q)mkdir -p $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(VMLINUX_H) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

# Userspace objects that include a skeleton must wait for it.
$(CMD_OBJS): $(SKELS)

$(OUTPUT)/user/%.o: user/%.c | $(OUTPUT)/user
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/selftests/%.o: selftests/%.c | $(OUTPUT)/selftests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/selftests/test_policy: $(OUTPUT)/selftests/test_policy.o $(LIB_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(PKG_LIBS) -lcmocka -o $@

$(OUTPUT)/selftests/test_diag: $(OUTPUT)/selftests/test_diag.o $(OUTPUT)/user/common/diag.o
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(PKG_LIBS) -lcmocka -o $@

$(OUTPUT)/selftests/test_procfs: $(OUTPUT)/selftests/test_procfs.o $(OUTPUT)/user/common/procfs.o
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ -lcmocka -o $@

$(OUTPUT)/selftests/test_kube: $(OUTPUT)/selftests/test_kube.o \
				     $(OUTPUT)/user/container/kube.o
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ -lcmocka -o $@

# They include the skeleton.
$(OUTPUT)/selftests/test_tc_rewrite.o $(OUTPUT)/selftests/test_tc_paths.o: $(SKELS)

$(OUTPUT)/selftests/test_tc_rewrite $(OUTPUT)/selftests/test_tc_paths: %: %.o
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(PKG_LIBS) -lpthread -o $@

$(OUTPUT)/selftests/mu_sock $(OUTPUT)/selftests/bench_sock $(OUTPUT)/selftests/run_probe \
$(OUTPUT)/selftests/run_edges $(OUTPUT)/selftests/bench_notif $(OUTPUT)/selftests/bench_floor \
$(OUTPUT)/selftests/mu_handover: %: %.o
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ -lpthread -o $@

# This binary with the engine ABI before this one's, and nothing else changed: the
# older engine selftests/vm/test_upgrade.sh hands over (its pins go to v<ABI-1>/).
MU_ABI     := $(shell sed -n 's/^\#define MU_ENGINE_ABI[[:space:]]*\([0-9]*\).*/\1/p' \
		include/mptcp_upgrade.h)

$(OUTPUT)/old-abi/$(APP): $(LIB_SRCS) $(CMD_SRCS) $(SKELS) $(wildcard include/*.h user/*.h \
			  user/*/*.h)
	$(call msg,BINARY,$@ (ABI $(shell expr $(MU_ABI) - 1)))
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) -DMU_ENGINE_ABI=$(shell expr $(MU_ABI) - 1) $(CFLAGS) \
		$(LIB_SRCS) $(CMD_SRCS) $(PKG_LIBS) -lpthread -o $@

# What a seccomp profile does once libseccomp compiled it (test_seccomp_profile.sh).
$(OUTPUT)/selftests/seccomp_eval: $(OUTPUT)/selftests/seccomp_eval.o
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(PKG_LIBS) -lseccomp -o $@

# Static: it is also a container's only program.
$(OUTPUT)/selftests/seccomp_listener: $(OUTPUT)/selftests/seccomp_listener.o
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -static $^ -o $@

# The same probe linked statically: what LD_PRELOAD tools can't reach, seccomp can.
# mu_sock too: the whole root file system of test_agent's containers.
$(OUTPUT)/selftests/mu_sock.static: $(OUTPUT)/selftests/mu_sock.o
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -static $^ -lpthread -o $@

$(OUTPUT)/selftests/run_probe.static: $(OUTPUT)/selftests/run_probe.o
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -static $^ -lpthread -o $@

$(OUTPUT)/selftests/bench_policy: $(OUTPUT)/selftests/bench_policy.o $(LIB_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

# The unit tests once more, built with AddressSanitizer and UBSan (make check runs both).
SAN_FLAGS  := -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_LIB    := $(LIB_SRCS)
SAN_BINS   := $(OUTPUT)/san/test_policy $(OUTPUT)/san/test_diag $(OUTPUT)/san/test_procfs \
	      $(OUTPUT)/san/test_kube

$(OUTPUT)/san: | $(filter deps,$(MAKECMDGOALS))
	$(Q)mkdir -p $@

$(OUTPUT)/san/test_policy: selftests/test_policy.c $(SAN_LIB) | $(OUTPUT)/san
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(CPPFLAGS) $(SAN_FLAGS) -Wall -Wno-unused-parameter -std=gnu11 $^ $(PKG_LIBS) \
		-lcmocka -o $@

$(OUTPUT)/san/test_diag: selftests/test_diag.c user/common/diag.c | $(OUTPUT)/san
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(CPPFLAGS) $(SAN_FLAGS) -Wall -Wno-unused-parameter -std=gnu11 $^ $(PKG_LIBS) \
		-lcmocka -o $@

$(OUTPUT)/san/test_procfs: selftests/test_procfs.c user/common/procfs.c | $(OUTPUT)/san
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(CPPFLAGS) $(SAN_FLAGS) -Wall -Wno-unused-parameter -std=gnu11 $^ -lcmocka -o $@

$(OUTPUT)/san/test_kube: selftests/test_kube.c user/container/kube.c | $(OUTPUT)/san
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(CPPFLAGS) $(SAN_FLAGS) -Wall -Wno-unused-parameter -std=gnu11 $^ -lcmocka -o $@

# libFuzzer harnesses (clang): the policy parser and trie, and the sock_diag
# parsing. FUZZ_TIME seconds each; crashes land in .output/fuzz/.
FUZZ_TIME  ?= 60
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

$(OUTPUT)/fuzz: | $(filter deps,$(MAKECMDGOALS))
	$(Q)mkdir -p $@

$(OUTPUT)/fuzz/fuzz_policy: selftests/fuzz/fuzz_policy.c $(SAN_LIB) | $(OUTPUT)/fuzz
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(CPPFLAGS) $(FUZZ_FLAGS) $^ $(PKG_LIBS) -o $@

$(OUTPUT)/fuzz/fuzz_diag: selftests/fuzz/fuzz_diag.c user/common/diag.c | $(OUTPUT)/fuzz
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(CPPFLAGS) $(FUZZ_FLAGS) $^ $(PKG_LIBS) -o $@

.PHONY: fuzz
fuzz: $(OUTPUT)/fuzz/fuzz_policy $(OUTPUT)/fuzz/fuzz_diag
	$(Q)mkdir -p $(OUTPUT)/fuzz/corpus-policy $(OUTPUT)/fuzz/corpus-diag
	$(Q)cp configs/*.policy $(OUTPUT)/fuzz/corpus-policy/
	$(Q)cd $(OUTPUT)/fuzz && ./fuzz_policy -max_total_time=$(FUZZ_TIME) -max_len=4096 \
		-dict=../../selftests/fuzz/policy.dict corpus-policy
	$(Q)cd $(OUTPUT)/fuzz && ./fuzz_diag -max_total_time=$(FUZZ_TIME) -max_len=8192 corpus-diag

# `make check` is the test command README.md and .ci/run give. prove runs every
# TAP producer in two passes, each closing with its summary:
# 1. At once (prove -j$(CHECK_JOBS): these machines have two CPUs), the suites that
#    share no state and time nothing on this machine: the unit and sanitizer
#    tests, the CLI, the tc programs, stats (those that ask "nothing attached?"
#    do it in a mount namespace of their own), the package build and install,
#    and the QEMU guests, longest first. A TCG guest keeps one CPU busy: two at a
#    time is what two CPUs hold, and each guest's timed cases see a CPU of their own.
# 2. One after the other, with nothing beside them, the suites whose assertions
#    time this machine's kernel: blackhole and subflow timers, signal windows and
#    2-CPU races (test_run*.sh), CPython's socket timeouts (test_thirdparty.sh),
#    the two-path waits (test_multipath.sh). Where this kernel runs the attach
#    engine, its suites run here natively and share the machine's cgroups and
#    pins, so they join this pass.
# The package build and install (test_install.sh, about 100 s) runs when asked,
# MU_CHECK_INSTALL=1 (.ci/run asks); otherwise prove lists it as skipped and says how.
CHECK_JOBS       ?= 2
MU_CHECK_INSTALL ?= 0
CHECK_QUICK      := $(OUTPUT)/selftests/test_policy $(OUTPUT)/selftests/test_diag \
		    $(OUTPUT)/selftests/test_procfs $(OUTPUT)/selftests/test_kube $(SAN_BINS) \
		    selftests/test_cli.sh selftests/test_docs.sh selftests/test_layout.sh \
		    $(OUTPUT)/selftests/test_tc_rewrite $(OUTPUT)/selftests/test_tc_paths \
		    selftests/test_stats.sh selftests/test_agent.sh selftests/test_seccomp_profile.sh \
		    selftests/test_kubernetes.sh selftests/test_container.sh selftests/test_exporter.sh
# The run engine in the 6.1 and 6.12 guests, one job each (test_vm_run.sh boots both).
CHECK_RUN_VMS    := selftests/test_vm_run_6.1.sh selftests/test_vm_run_6.12.sh
CHECK_ATTACH     := selftests/test_vm.sh selftests/test_vm_strict.sh selftests/test_vm_repair.sh \
		    selftests/test_vm_upgrade.sh selftests/test_vm_container.sh
CHECK_TIMED      := selftests/test_run.sh selftests/test_run_edges.sh \
		    selftests/test_thirdparty.sh selftests/test_multipath.sh
# The attach engine's suites in QEMU (they can share the machine), or natively.
attach_native     = ./$(APP) check --engine attach >/dev/null 2>&1

.PHONY: check
check: $(APP) $(TEST_BINS) $(VM_BINS) $(SAN_BINS)
	$(Q)if $(attach_native); then par=; seq="$(CHECK_ATTACH)"; \
	else par="$(CHECK_ATTACH)"; seq=; fi; rc=0; \
	MU_CHECK_INSTALL=$(MU_CHECK_INSTALL) prove -v --timer -j$(CHECK_JOBS) -e '' \
		$(CHECK_RUN_VMS) $$par selftests/test_install.sh $(CHECK_QUICK) || rc=1; \
	prove -v --timer -e '' $(CHECK_TIMED) $$seq || rc=1; \
	exit $$rc

# The loop to run on every change (about a minute here, no emulation): the unit
# and sanitizer tests, the CLI, README.md and docs/ against the tree, the tc
# programs, stats, and the run engine's suites natively with every regression
# case. `make check` is all of it and more.
.PHONY: check-fast
check-fast: $(APP) $(TEST_BINS) $(SAN_BINS)
	$(Q)prove --timer -e '' $(CHECK_QUICK) selftests/test_run.sh selftests/test_run_edges.sh

# The end-to-end suites alone: the attach engine's here if this kernel runs the
# hook, in QEMU otherwise (then two at a time, as in make check); the run
# engine's kernel-dependent cases in the 6.1 and 6.12 guests.
.PHONY: vmtest
vmtest: $(APP) $(TEST_BINS) $(VM_BINS)
	$(Q)if $(attach_native); then \
		prove -v -e '' $(CHECK_ATTACH) && prove -v -j$(CHECK_JOBS) -e '' $(CHECK_RUN_VMS); \
	else prove -v -j$(CHECK_JOBS) -e '' $(CHECK_RUN_VMS) $(CHECK_ATTACH); fi

.PHONY: bench
bench: $(APP) $(BENCH_BINS) $(OUTPUT)/selftests/test_tc_rewrite
	$(Q)selftests/bench.sh

# Aggregation and failover through an upgraded HAProxy, against the paths' limit
# and mptcpize: writes selftests/multipath/results/report.md and its plots.
.PHONY: bench-multipath
bench-multipath: $(APP) $(TEST_BINS)
	$(Q)selftests/multipath/run.sh

# Regenerate the committed vmlinux.h from the running kernel's BTF, replacing it
# only when it changed so that a no-op run does not trigger a full rebuild.
.PHONY: vmlinux
vmlinux:
	$(call msg,GEN,$(VMLINUX_H))
	$(Q)mkdir -p $(dir $(VMLINUX_H))
	$(Q)tmp=$$(mktemp) && \
	  $(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $$tmp && \
	  if cmp -s $$tmp $(VMLINUX_H); then rm -f $$tmp; echo "  $(VMLINUX_H) unchanged"; \
	  else mv $$tmp $(VMLINUX_H); chmod 644 $(VMLINUX_H); fi

# Example policies go to $(SYSCONFDIR)/mptcp-upgrade only where no file of that
# name is: an operator's edited policy is never overwritten.
.PHONY: install
install: $(APP) $(SECCOMP_BUILT)
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -D -m 0755 $(APP) $(DESTDIR)$(SBINDIR)/$(APP)
	$(Q)if [ -n "$(SECCOMP_BUILT)" ]; then install -D -m 0644 $(SECCOMP_PROFILE) \
		$(DESTDIR)$(DATADIR)/seccomp/mptcp-upgrade.json; fi
	$(Q)install -D -m 0644 configs/man/mptcp-upgrade.8 $(DESTDIR)$(MANDIR)/man8/mptcp-upgrade.8
	$(Q)install -D -m 0644 configs/man/mptcp-upgrade.policy.5 \
		$(DESTDIR)$(MANDIR)/man5/mptcp-upgrade.policy.5
	$(Q)install -D -m 0644 configs/bash-completion/mptcp-upgrade \
		$(DESTDIR)$(COMPLETIONDIR)/mptcp-upgrade
	$(Q)install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/mptcp-upgrade $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(DOCDIR)/examples/haproxy.service.d \
		$(DESTDIR)$(DOCDIR)/examples/nginx.service.d $(DESTDIR)$(DOCDIR)/docs
	$(Q)install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	$(Q)install -m 0644 docs/*.md $(DESTDIR)$(DOCDIR)/docs/
	$(Q)for f in example.policy:haproxy.policy demo.policy:demo.policy; do \
		dst=$(DESTDIR)$(SYSCONFDIR)/mptcp-upgrade/$${f%%:*}; \
		[ -e "$$dst" ] || install -m 0644 configs/$${f#*:} "$$dst"; \
	done
	$(Q)for u in $(UNITS); do \
		sed 's|@SBINDIR@|$(SBINDIR)|g' configs/systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u; \
	done
	$(Q)install -m 0644 configs/systemd/haproxy.service.d/mptcp-upgrade.conf \
		$(DESTDIR)$(DOCDIR)/examples/haproxy.service.d/mptcp-upgrade.conf
	$(Q)sed 's|@SBINDIR@|$(SBINDIR)|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		configs/systemd/haproxy.service.d/mptcp-upgrade-run.conf \
		> $(DESTDIR)$(DOCDIR)/examples/haproxy.service.d/mptcp-upgrade-run.conf && \
		chmod 0644 $(DESTDIR)$(DOCDIR)/examples/haproxy.service.d/mptcp-upgrade-run.conf
	$(Q)install -m 0644 configs/demo-haproxy.cfg $(DESTDIR)$(DOCDIR)/examples/haproxy.cfg
	$(Q)install -m 0644 configs/nginx.policy $(DESTDIR)$(DOCDIR)/examples/nginx.policy
	$(Q)install -m 0644 configs/systemd/nginx.service.d/mptcp-upgrade.conf \
		$(DESTDIR)$(DOCDIR)/examples/nginx.service.d/mptcp-upgrade.conf
	$(Q)sed 's|@SBINDIR@|$(SBINDIR)|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		configs/systemd/nginx.service.d/mptcp-upgrade-run.conf \
		> $(DESTDIR)$(DOCDIR)/examples/nginx.service.d/mptcp-upgrade-run.conf && \
		chmod 0644 $(DESTDIR)$(DOCDIR)/examples/nginx.service.d/mptcp-upgrade-run.conf

# Policies in $(SYSCONFDIR)/mptcp-upgrade are the operator's: uninstall keeps them.
.PHONY: uninstall
uninstall:
	$(call msg,UNINSTALL,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(DESTDIR)$(SBINDIR)/$(APP) $(DESTDIR)$(MANDIR)/man8/mptcp-upgrade.8 \
		$(DESTDIR)$(MANDIR)/man5/mptcp-upgrade.policy.5 \
		$(DESTDIR)$(COMPLETIONDIR)/mptcp-upgrade $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS))
	$(Q)rm -rf $(DESTDIR)$(DOCDIR) $(DESTDIR)$(DATADIR)

.PHONY: clean
clean:
	$(call msg,CLEAN)
	$(Q)rm -rf $(OUTPUT) $(APP)

.DELETE_ON_ERROR:
.SECONDARY:

-include $(wildcard $(OUTPUT)/*.d $(OUTPUT)/user/*.d $(OUTPUT)/user/*/*.d $(OUTPUT)/selftests/*.d)
