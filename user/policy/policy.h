/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The policy file: HAProxy's mptcp@ address syntax (see mptcp-upgrade.policy(5))
 * parsed into a normalized list of entries, one per address, that the loader
 * turns into BPF map contents.
 */
#ifndef MU_POLICY_H
#define MU_POLICY_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mptcp_upgrade.h"

struct policy_entry {
	uint8_t role;			/* enum mu_role */
	uint8_t family;			/* AF_INET or AF_INET6 */
	uint8_t prefix_len;		/* 0 = any address of the family */
	uint8_t addr[16];		/* network order; IPv4 uses the first 4 bytes */
	uint16_t port_min;		/* 0..65535 when no port was written */
	uint16_t port_max;
	unsigned int line;		/* where the address was written, 1-based */
	unsigned int column;
	char *source;			/* the address as written: "mptcp@10.0.0.5:80" */
	char *host;			/* the host name it was resolved from, or NULL */
	bool v4mapped;			/* written ::ffff:a.b.c.d: IPv4, from IPv6 sockets too */
};

struct policy {
	struct policy_entry *entries;
	size_t nr_entries;
	size_t cap_entries;
	unsigned int nr_lines;		/* lines that held at least one address */
	struct resolve_cache *cache;	/* host names resolved during this load */
};

#define POLICY_ERR_MAX 512

struct policy_error {
	char msg[POLICY_ERR_MAX];	/* "FILE:LINE:COL: what is wrong" or "FILE: ..." */
};

/* Largest policy file read into memory; anything bigger is surely not a policy. */
#define POLICY_MAX_FILE_SIZE	(64U << 20)

void policy_init(struct policy *pol);
void policy_free(struct policy *pol);

/*
 * Parse @path ("-" is standard input) into @pol. On error return -1, leave @pol
 * empty and describe the first problem in @err. @name is what errors call the
 * file (NULL: @path).
 */
int policy_load_file(const char *path, struct policy *pol, struct policy_error *err);
int policy_parse_buffer(const char *name, const char *buf, size_t len, struct policy *pol,
			struct policy_error *err);

/*
 * The policy of attach and reload. It decides what a proxy's sockets become,
 * so like sudoers it must be root's alone: a regular file owned by root and
 * writable by nobody else (nor by a group other than root's), in directories
 * that are root's alone too. It is opened once (the path resolved first, no
 * link followed after that, a FIFO refused without blocking), checked on the
 * open descriptor, and @sha256 is the hash of the bytes parsed. @resolved
 * receives the absolute path. Returns 0, or -1 with the reason in @err.
 */
int policy_load_trusted(const char *path, struct policy *pol, char resolved[PATH_MAX],
			char sha256[65], struct policy_error *err);
/* Would attach, reload and run accept @path (as above, without parsing it)? 0, or -1 and why. */
int policy_check_trusted(const char *path, struct policy_error *err);


const char *policy_role_str(uint8_t role);
const char *policy_family_str(uint8_t family);
/* MU_FAMILY_* bits as "ipv4", "ipv6", "ipv4 ipv6" or "none". */
const char *policy_families_str(uint32_t families);
/* "10.0.0.0/8", "::/0": buffer of at least POLICY_PREFIX_STRLEN bytes. */
#define POLICY_PREFIX_STRLEN	(46 + 4)
void policy_entry_prefix_str(const struct policy_entry *e, char *buf, size_t size);
/* "443", "8000-8100" or "all". */
#define POLICY_PORTS_STRLEN	12
void policy_entry_ports_str(const struct policy_entry *e, char *buf, size_t size);
/* Does @e cover a call of @role on this address and port? The reference the BPF side must match. */
bool policy_entry_matches(const struct policy_entry *e, uint8_t family, const uint8_t *addr,
			  uint16_t port, uint8_t role);

/* The lookup trie (its own header, for the tests and the fuzzer that want only it). */
#include "policy_trie.h"

/* loaded_policy.c */
/* A policy read for attach, reload or run: parsed, its trie built, where it came from. */
struct loaded_policy {
	struct policy pol;
	struct policy_trie trie;
	char path[PATH_MAX];		/* resolved */
	char sha256[65];		/* of the bytes parsed */
};

/* Read a policy as attach and reload do (root's alone), and build its trie; errors printed. */
int load_policy(const char *path, struct loaded_policy *lp);
void loaded_policy_free(struct loaded_policy *lp);
struct jsonw;
/* "entries": its entries as the state files and the run registry keep them (line, source, ...). */
void policy_entries_json(struct jsonw *w, const struct policy *pol);

/*
 * What a command did with a policy (attach, reload of either engine, detach):
 * one line per cgroup or supervisor, or one JSON array that report_finish()
 * prints at the command's end.
 */
void report_action(const char *action, const char *cgroup, const char *policy,
		   const struct policy *pol, __u32 families);
/* The command ends with @ret: in JSON mode and on success, print what it did. */
int report_finish(int ret);

#endif /* MU_POLICY_H */
