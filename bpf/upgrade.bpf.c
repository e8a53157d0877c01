// SPDX-License-Identifier: GPL-2.0-only
/*
 * The attach engine in the kernel.
 *
 * Stage 1: make the TCP sockets of attached cgroups MPTCP at creation. socket()
 * picks the protocol before any address exists, and update_socket_protocol()
 * is the one place the kernel lets BPF change it. cgroup/sock_create then marks
 * the new MPTCP socket as ours.
 *
 * Stage 2: at bind() and connect() of one of our sockets, match the address
 * against the attachment's policy and remember which entry matched (or that
 * none did). These programs observe only: they never deny a call.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "net_consts.h"
#include "mptcp_upgrade.h"

#define TCPOPT_MPTCP_KIND	30
#define TCP_MAX_OPTIONS		40

char LICENSE[] SEC("license") = "GPL";

/* cgroup v2 id -> attachment. The loader adds and removes entries. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MU_MAX_ATTACHMENTS);
	__type(key, __u64);
	__type(value, struct mu_attachment);
} attached_cgroups SEC(".maps");

/*
 * pid_tgid -> note for the socket the thread is creating. LRU, so that notes
 * left by a socket() that failed after the upgrade (ENOPROTOOPT when MPTCP is
 * disabled in the caller's netns) age out instead of filling the map.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	/* Per-CPU LRU lists: a busy CPU can't evict the note another CPU just left. */
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__uint(max_entries, MU_MAX_PENDING_NOTES);
	__type(key, __u64);
	__type(value, struct mu_upgrade_note);
} upgrade_notes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MU_MAX_ATTACHMENTS);
	__type(key, __u32);
	__type(value, struct mu_attach_counters);
} attach_counters SEC(".maps");

/* attach id -> that attachment's policy trie; reload swaps the inner map in one update. */
struct policy_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, MU_MAX_POLICY_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	/* sizes, not types: libbpf 1.1 can't size struct types of an inner map */
	__uint(key_size, sizeof(struct mu_lpm_key));
	__uint(value_size, sizeof(struct mu_policy_value));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, MU_MAX_ATTACHMENTS);
	__type(key, __u32);
	__array(values, struct policy_trie);
} policies SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, MU_MAX_LINE_COUNTERS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mu_line_key);
	__type(value, struct mu_line_counters);
} line_counters SEC(".maps");

/*
 * BPF_F_CLONE: an accepted MPTCP socket is a clone of its listener and so
 * inherits the listener's state (its attachment and the entry its bind matched).
 */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct mu_sock_state);
} sock_states SEC(".maps");

/* MU_ENGINE_ABI of the loader that pinned this engine (one element). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} engine_abi SEC(".maps");

/* Network namespace cookie -> MU_NETNS_*, written by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MU_MAX_NETNS);
	__type(key, __u64);
	__type(value, __u32);
} netns_info SEC(".maps");

/*
 * Is @sk the connection's first subflow (the one the application's bind() and
 * connect() act on), not an MP_JOIN subflow a kernel worker binds and
 * connects? mptcp_sock is kernel-internal: should a kernel lack the field,
 * nothing is taken for a first subflow, and stage 3 classifies from the
 * packets and the listener's address instead of failing to load.
 */
static __always_inline bool first_subflow(struct mptcp_sock *msk, void *sk)
{
	if (!bpf_core_field_exists(msk->first))
		return false;
	return (void *)msk->first == sk;
}

static __always_inline void count(__u32 attach_id, enum mu_attach_counter idx)
{
	struct mu_attach_counters *c = bpf_map_lookup_elem(&attach_counters, &attach_id);

	/*
	 * Per-CPU, but a tc or sockops program in softirq can interrupt a
	 * process-context program on the same CPU: add atomically.
	 */
	if (c && idx < MU_CNT_MAX)
		__sync_fetch_and_add(&c->count[idx], 1);
}

/*
 * Bumped by the loader after every change to which cgroups are attached (an
 * insert or a delete in attached_cgroups, not a reload): the generation the
 * verdicts below were taken in. One element.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} attach_gen SEC(".maps");

/*
 * Which attachment covers a task of a cgroup, kept in the cgroup itself
 * (cgroup-local storage: one pointer chase from the task, no hashing, gone
 * with the cgroup): one word, written and read whole, so that two threads of
 * the cgroup storing verdicts of two generations at once leave one of them,
 * never a mix. Upper half: the attach_gen it was taken in, folded into 1 to
 * 2^32 - 1 (storage just created holds 0: no verdict); lower half: the
 * attachment's slot + 1, or 0 for none.
 */
struct {
	__uint(type, BPF_MAP_TYPE_CGRP_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} cgroup_verdicts SEC(".maps");

/*
 * Attachment slot -> the cgroup id it was last found at by a walk: a verdict
 * names a slot, attached_cgroups is keyed by cgroup id. Written by the walks
 * only; a slot reused by another cgroup is caught by checking the attachment
 * found there against the slot (and a verdict of that slot is from an older
 * generation by then anyway).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MU_MAX_ATTACHMENTS);
	__type(key, __u32);
	__type(value, __u64);
} slot_cgroups SEC(".maps");

/*
 * The attachment that covers the calling task: the deepest attached cgroup on
 * the path from the cgroup v2 root to the task's own cgroup, so that a child
 * cgroup attached with its own policy overrides its parent's.
 */
static __always_inline const struct mu_attachment *walk_ancestors(__u64 *cgroup_id)
{
	const struct mu_attachment *found = NULL, *att;
	__u64 cgid;
	int level;

	for (level = 0; level <= MU_MAX_CGROUP_DEPTH; level++) {
		cgid = bpf_get_current_ancestor_cgroup_id(level);
		if (!cgid)	/* past the task's own cgroup */
			break;
		att = bpf_map_lookup_elem(&attached_cgroups, &cgid);
		if (att) {
			found = att;
			*cgroup_id = cgid;
		}
	}
	return found;
}

/* For the socket-creation hook, where the task's cgroup can be reached. */
static __always_inline const struct mu_attachment *current_attachment(__u64 *cgroup_id)
{
	struct task_struct *task = bpf_get_current_task_btf();
	const struct mu_attachment *att;
	__u64 *genp, *verdict, *slot_cgid, word, gen;
	__u32 zero = 0, slot;

	/*
	 * The generation before the walk: a walk that raced with an attach or a
	 * detach is stored under the old generation, and so walked again.
	 */
	genp = bpf_map_lookup_elem(&attach_gen, &zero);
	if (!genp)
		return walk_ancestors(cgroup_id);
	gen = *(volatile __u64 *)genp % 0xffffffff + 1;	/* 1 to 2^32 - 1: 0 is no verdict */
	verdict = bpf_cgrp_storage_get(&cgroup_verdicts, task->cgroups->dfl_cgrp, 0,
				       BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!verdict)
		return walk_ancestors(cgroup_id);
	word = *(volatile __u64 *)verdict;
	if (word >> 32 == gen) {
		slot = (__u32)word;
		if (!slot)
			return NULL;
		slot--;
		slot_cgid = bpf_map_lookup_elem(&slot_cgroups, &slot);
		if (slot_cgid) {
			*cgroup_id = *slot_cgid;
			att = bpf_map_lookup_elem(&attached_cgroups, cgroup_id);
			if (att && att->id == slot)
				return att;
		}
	}
	att = walk_ancestors(cgroup_id);
	slot = 0;
	if (att && att->id < MU_MAX_ATTACHMENTS) {
		slot = att->id;
		slot_cgid = bpf_map_lookup_elem(&slot_cgroups, &slot);
		if (slot_cgid)
			*slot_cgid = *cgroup_id;
		slot = att->id + 1;
	} else if (att) {
		return att;	/* a slot no verdict can name: walked every time */
	}
	*(volatile __u64 *)verdict = gen << 32 | slot;
	return att;
}

/*
 * May a socket of @att be upgraded in the caller's network namespace? Not
 * where MPTCP is off (socket() would fail with ENOPROTOOPT), and, for a strict
 * attachment, not where the loader has not put stage 3 on the interfaces: an
 * unlisted address there would negotiate MPTCP. Such sockets stay TCP, and are
 * counted, until `reload` or `follow` prepares the namespace.
 */
static __always_inline bool netns_allows(const struct mu_attachment *att)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 cookie = task->nsproxy->net_ns->net_cookie;
	__u32 *info = bpf_map_lookup_elem(&netns_info, &cookie);

	if (info && (*info & MU_NETNS_MPTCP_OFF)) {
		count(att->id, MU_CNT_NETNS_MPTCP_OFF);
		return false;
	}
	if ((att->flags & MU_ATTACH_STRICT) && (!info || !(*info & MU_NETNS_STAGE3))) {
		count(att->id, MU_CNT_NETNS_UNPREPARED);
		return false;
	}
	return true;
}

/*
 * Leave the calling thread's note for the socket it is creating. The thread's
 * note from an earlier socket() is rewritten in place: in the steady state a
 * socket() costs a lookup here and one in mu_mark_socket, no update or delete.
 */
static __always_inline bool leave_note(struct mu_upgrade_note *note, __u64 pid_tgid,
				       __u64 cgroup_id, int family,
				       const struct mu_attachment *att, __u32 native)
{
	struct mu_upgrade_note fresh = {
		.cgroup_id = cgroup_id, .family = family, .attach_flags = att->flags,
		.attach_id = att->id, .native = native, .pending = 1, .owner = pid_tgid,
	};

	if (note) {
		*note = fresh;
		return true;
	}
	return !bpf_map_update_elem(&upgrade_notes, &pid_tgid, &fresh, BPF_ANY);
}

/*
 * Returns IPPROTO_MPTCP to upgrade, 0 to leave the choice to whatever comes
 * next, never @protocol: the trampoline stops at the first fmod_ret program that
 * returns non-zero, so "protocol" (6 for socket(..., IPPROTO_TCP)) would keep
 * the engine of another ABI that runs after this one during a hand-over
 * (docs/upgrades.md), or another tool's hook, from ever seeing the socket.
 * With 0, update_socket_protocol() itself returns @protocol.
 */
SEC("fmod_ret/update_socket_protocol")
int BPF_PROG(mu_upgrade_socket, int family, int type, int protocol)
{
	const struct mu_attachment *att;
	struct mu_upgrade_note *note;
	__u64 pid_tgid, cgroup_id = 0;
	__u32 family_bit;

	/* Cheap tests first: this runs for every socket() on the machine. */
	if (family == AF_INET)
		family_bit = MU_FAMILY_INET;
	else if (family == AF_INET6)
		family_bit = MU_FAMILY_INET6;
	else
		return 0;
	if ((type & SOCK_TYPE_MASK) != SOCK_STREAM)
		return 0;
	if (protocol != 0 && protocol != IPPROTO_TCP && protocol != IPPROTO_MPTCP)
		return 0;

	att = current_attachment(&cgroup_id);
	if (!att)
		return 0;

	pid_tgid = bpf_get_current_pid_tgid();
	if (protocol == IPPROTO_MPTCP) {
		/*
		 * The application wants MPTCP on its own. Void any note a failed
		 * earlier socket() of this thread left, so this socket is never
		 * mistaken for one we upgraded.
		 */
		note = bpf_map_lookup_elem(&upgrade_notes, &pid_tgid);
		if (note)
			note->pending = 0;
		count(att->id, MU_CNT_SOCKETS_NATIVE_MPTCP);
		/* Opted in: the bridge only; every other stage leaves it alone. */
		if (att->flags & MU_ATTACH_BRIDGE_NATIVE)
			leave_note(note, pid_tgid, cgroup_id, family, att, 1);
		return 0;
	}
	if (!(att->families & family_bit)) {
		count(att->id, MU_CNT_SOCKETS_OTHER_FAMILY);
		return 0;
	}
	if (!netns_allows(att))
		return 0;

	note = bpf_map_lookup_elem(&upgrade_notes, &pid_tgid);
	if (!leave_note(note, pid_tgid, cgroup_id, family, att, 0))
		count(att->id, MU_CNT_NOTES_DROPPED);
	count(att->id, MU_CNT_SOCKETS_UPGRADED);
	return IPPROTO_MPTCP;
}

SEC("cgroup/sock_create")
int mu_mark_socket(struct bpf_sock *ctx)
{
	struct mu_upgrade_note *note;
	struct mu_sock_state *st;
	__u64 pid_tgid;

	if (ctx->protocol != IPPROTO_MPTCP)
		return 1;
	pid_tgid = bpf_get_current_pid_tgid();
	note = bpf_map_lookup_elem(&upgrade_notes, &pid_tgid);
	if (!note || !note->pending || note->owner != pid_tgid)
		return 1;	/* the application asked for MPTCP itself */
	note->pending = 0;
	if (note->family != ctx->family)
		return 1;
	st = bpf_sk_storage_get(&sock_states, ctx, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return 1;
	st->cgroup_id = note->cgroup_id;
	if (note->native) {
		st->flags = MU_SOCK_BRIDGE_ONLY;
		return 1;
	}
	st->flags = MU_SOCK_UPGRADED;
	if (note->attach_flags & MU_ATTACH_STRICT)
		st->flags |= MU_SOCK_STRICT;
	/* upgraded - marked: failed socket() calls and lost notes, never silent */
	count(note->attach_id, MU_CNT_SOCKETS_MARKED);
	return 1;
}

enum line_event { LINE_BIND, LINE_CONNECT, LINE_MPTCP, LINE_FALLBACK, LINE_ESCAPED };

static __always_inline void count_line(__u32 attach_id, __u32 entry, enum line_event ev)
{
	struct mu_line_key key = { .attach_id = attach_id, .entry = entry };
	struct mu_line_counters *c, zero = {};

	c = bpf_map_lookup_elem(&line_counters, &key);
	if (!c) {
		bpf_map_update_elem(&line_counters, &key, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&line_counters, &key);
		if (!c) {
			count(attach_id, MU_CNT_LINE_COUNTERS_FULL);
			return;
		}
	}
	if (ev == LINE_BIND)
		__sync_fetch_and_add(&c->binds, 1);
	else if (ev == LINE_CONNECT)
		__sync_fetch_and_add(&c->connects, 1);
	else if (ev == LINE_MPTCP)
		__sync_fetch_and_add(&c->mptcp, 1);
	else if (ev == LINE_FALLBACK)
		__sync_fetch_and_add(&c->fallback, 1);
	else
		__sync_fetch_and_add(&c->escaped, 1);
}

/* The first entry, in policy order, whose ranges cover this port for this role. */
static __always_inline __u32 match_ranges(const struct mu_policy_value *val, __u16 port,
					  __u8 role)
{
	int i;

	for (i = 0; i < MU_MAX_RANGES; i++) {
		const struct mu_port_range *r = &val->ranges[i];

		if (i >= val->nr_ranges)
			break;
		if ((r->roles & role) && port >= r->port_min && port <= r->port_max)
			return r->entry + 1;
	}
	return MU_ENTRY_UNLISTED;
}

/* The policy's answer for one address and port in one role: entry + 1 or MU_ENTRY_UNLISTED. */
static __always_inline __u32 policy_lookup(const struct mu_attachment *att,
					   const struct mu_lpm_key *key, __u16 port, __u8 role)
{
	const struct mu_policy_value *val;
	void *trie;

	trie = bpf_map_lookup_elem(&policies, &att->id);
	if (!trie)
		return MU_ENTRY_UNLISTED;
	val = bpf_map_lookup_elem(trie, key);
	return val ? match_ranges(val, port, role) : MU_ENTRY_UNLISTED;
}

/* The trie key of an IPv6 address; ::ffff:a.b.c.d on a dual-stack socket is IPv4 a.b.c.d. */
static __always_inline void lpm_key6(struct mu_lpm_key *key, __u32 a0, __u32 a1, __u32 a2,
				     __u32 a3)
{
	if (!a0 && !a1 && a2 == bpf_htonl(0xffff)) {
		key->family = AF_INET;
		__builtin_memcpy(key->addr, &a3, 4);
		key->prefixlen = MU_LPM_FAMILY_BITS + 32;
		return;
	}
	key->family = AF_INET6;
	__builtin_memcpy(key->addr, &a0, 4);
	__builtin_memcpy(key->addr + 4, &a1, 4);
	__builtin_memcpy(key->addr + 8, &a2, 4);
	__builtin_memcpy(key->addr + 12, &a3, 4);
	key->prefixlen = MU_LPM_FAMILY_BITS + 128;
}

static __always_inline void lpm_key4(struct mu_lpm_key *key, __u32 a)
{
	key->family = AF_INET;
	__builtin_memcpy(key->addr, &a, 4);
	key->prefixlen = MU_LPM_FAMILY_BITS + 32;
}

/*
 * Classify the first subflow of one of our MPTCP sockets at bind() (role
 * MU_ROLE_BIND, local address) or connect() (MU_ROLE_CONNECT, destination).
 * @family is a constant per program: the verifier refuses user_ip6 in bind4.
 */
static __always_inline void lpm_key_of(struct bpf_sock_addr *ctx, int family,
					struct mu_lpm_key *key)
{
	if (family == AF_INET)
		lpm_key4(key, ctx->user_ip4);
	else
		lpm_key6(key, ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2],
			 ctx->user_ip6[3]);
}

/*
 * bind() or connect() of a plain TCP socket in an attached cgroup. Of a family
 * the policy lists and in a namespace where the upgrade would have happened,
 * it escaped the upgrade: created before attach, through io_uring, or passed
 * in from outside. Counted per attachment and on the line it would have
 * matched, so that a line's BINDS 0 can be told from a socket that escaped.
 */
static __always_inline void count_escaped(struct bpf_sock_addr *ctx, __u8 role, int family)
{
	struct mu_lpm_key key = {};
	const struct mu_attachment *att;
	__u64 cgroup_id = 0, cookie;
	__u32 *info, entry;

	/* Rare (a TCP socket in an attached cgroup), and no task to reach a cgroup from here. */
	att = walk_ancestors(&cgroup_id);
	if (!att || !(att->families & (family == AF_INET ? MU_FAMILY_INET : MU_FAMILY_INET6)))
		return;
	cookie = bpf_get_netns_cookie(ctx);
	info = bpf_map_lookup_elem(&netns_info, &cookie);
	if ((info && (*info & MU_NETNS_MPTCP_OFF)) ||
	    ((att->flags & MU_ATTACH_STRICT) && (!info || !(*info & MU_NETNS_STAGE3))))
		return;	/* left TCP on purpose, and counted at socket() */
	lpm_key_of(ctx, family, &key);
	entry = policy_lookup(att, &key, bpf_ntohs((__u16)ctx->user_port), role);
	count(att->id, role == MU_ROLE_BIND ? MU_CNT_BINDS_ESCAPED : MU_CNT_CONNECTS_ESCAPED);
	if (entry != MU_ENTRY_UNLISTED)
		count_line(att->id, entry - 1, LINE_ESCAPED);
}

static __always_inline int classify(struct bpf_sock_addr *ctx, __u8 role, int family)
{
	struct mu_lpm_key key = {};
	const struct mu_attachment *att;
	struct bpf_sock *sk = ctx->sk;
	struct mptcp_sock *msk;
	struct mu_sock_state *st;
	__u32 entry, gen;
	__u16 port;

	if (!sk || sk->protocol != IPPROTO_TCP)
		return 1;
	msk = bpf_skc_to_mptcp_sock(sk);
	if (!msk) {
		count_escaped(ctx, role, family);
		return 1;
	}
	/* MP_JOIN subflows are bound and connected by the kernel: not a user's call. */
	if (!first_subflow(msk, sk))
		return 1;
	st = bpf_sk_storage_get(&sock_states, msk, NULL, 0);
	if (!st || !(st->flags & MU_SOCK_UPGRADED))
		return 1;
	att = bpf_map_lookup_elem(&attached_cgroups, &st->cgroup_id);
	if (!att)
		return 1;	/* detached since: stage 3 treats it as unlisted */
	/* The generation first: a reload swaps the trie, then bumps it. */
	gen = att->gen;

	port = bpf_ntohs((__u16)ctx->user_port);
	lpm_key_of(ctx, family, &key);
	entry = policy_lookup(att, &key, port, role);
	if (role == MU_ROLE_BIND) {
		struct mu_sock_state *sub;

		st->bind_entry = entry;
		st->bind_gen = gen;
		/*
		 * The listening subflow carries the state too: every socket accept()
		 * hands out is cloned from it, MPTCP subflow or plain TCP fallback.
		 */
		sub = bpf_sk_storage_get(&sock_states, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
		if (sub)
			*sub = *st;
		count(att->id, entry == MU_ENTRY_UNLISTED ? MU_CNT_BINDS_UNLISTED
							  : MU_CNT_BINDS_LISTED);
	} else {
		st->connect_entry = entry;
		st->connect_gen = gen;
		count(att->id, entry == MU_ENTRY_UNLISTED ? MU_CNT_CONNECTS_UNLISTED
							  : MU_CNT_CONNECTS_LISTED);
	}
	if (entry != MU_ENTRY_UNLISTED)
		count_line(att->id, entry - 1, role == MU_ROLE_BIND ? LINE_BIND : LINE_CONNECT);
	return 1;
}

SEC("cgroup/bind4")
int mu_bind4(struct bpf_sock_addr *ctx)
{
	return classify(ctx, MU_ROLE_BIND, AF_INET);
}

SEC("cgroup/bind6")
int mu_bind6(struct bpf_sock_addr *ctx)
{
	return classify(ctx, MU_ROLE_BIND, AF_INET6);
}

SEC("cgroup/connect4")
int mu_connect4(struct bpf_sock_addr *ctx)
{
	return classify(ctx, MU_ROLE_CONNECT, AF_INET);
}

SEC("cgroup/connect6")
int mu_connect6(struct bpf_sock_addr *ctx)
{
	return classify(ctx, MU_ROLE_CONNECT, AF_INET6);
}

/* ---- the socket-option bridge ------------------------------------------------ */

/* What the loader probed on the running kernel: struct mu_bridge_config, one element. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mu_bridge_config);
} bridge_config SEC(".maps");

/*
 * The values an application set through the bridge, on its MPTCP socket;
 * created by the first one. BPF_F_CLONE: a connection accepted from a listener
 * starts with the listener's values, as a TCP socket inherits its listener's.
 */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct mu_bridge_values);
} bridge_values SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MU_MAX_ATTACHMENTS * MU_SOPT_MAX);
	__type(key, __u32);
	__type(value, struct mu_sockopt_counters);
} sockopt_counters SEC(".maps");

/* The kernel's page size, set by the loader: sockopt buffers beyond it are not ours to see. */
const volatile __u32 page_size = 4096;

enum sockopt_event { SOPT_CARRIED, SOPT_REFUSED, SOPT_APPLY_FAILED };

static __always_inline int sockopt_index(int level, int optname)
{
#define MU_X(name, lvl, opt, family, kind) \
	if (level == (lvl) && optname == (opt)) \
		return MU_SOPT_##name;
	MU_SOCKOPTS(MU_X)
#undef MU_X
	return -1;
}

static __always_inline void count_sockopt(const struct mu_sock_state *st, int idx,
					  enum sockopt_event ev)
{
	const struct mu_attachment *att = bpf_map_lookup_elem(&attached_cgroups, &st->cgroup_id);
	struct mu_sockopt_counters *c;
	__u32 key;

	if (!att || att->id >= MU_MAX_ATTACHMENTS || idx < 0 || idx >= MU_SOPT_MAX)
		return;
	key = att->id * MU_SOPT_MAX + idx;
	c = bpf_map_lookup_elem(&sockopt_counters, &key);
	if (!c)
		return;
	if (ev == SOPT_CARRIED)
		__sync_fetch_and_add(&c->carried, 1);
	else if (ev == SOPT_REFUSED)
		__sync_fetch_and_add(&c->refused, 1);
	else
		__sync_fetch_and_add(&c->apply_failed, 1);
}

/* The kernel's own range checks for the carried options (net/ipv4/tcp.c, net/ipv6/ipv6_sockglue.c). */
static __always_inline bool carried_value_ok(int idx, int v)
{
	switch (idx) {
	case MU_SOPT_TCP_USER_TIMEOUT:
		return v >= 0;
	case MU_SOPT_TCP_MAXSEG:	/* 0, or TCP_MIN_MSS .. MAX_TCP_WINDOW */
		return v == 0 || (v >= 88 && v <= 32767);
	case MU_SOPT_TCP_KEEPIDLE:
	case MU_SOPT_TCP_KEEPINTVL:
		return v >= 1 && v <= 32767;
	case MU_SOPT_TCP_KEEPCNT:
	case MU_SOPT_TCP_SYNCNT:
		return v >= 1 && v <= 127;
	case MU_SOPT_TCP_WINDOW_CLAMP:	/* 0 means "reset" and is left to the kernel */
		return v > 0;
	case MU_SOPT_TCP_THIN_LINEAR_TIMEOUTS:
		return v == 0 || v == 1;
	case MU_SOPT_TCP_NOTSENT_LOWAT:
		return true;
	case MU_SOPT_IPV6_TCLASS:
		return v >= -1 && v <= 255;
	}
	return false;
}

/*
 * setsockopt() on one of our MPTCP sockets, before the kernel's handler. An
 * option the kernel takes is left to it; one it refuses and the bridge carries
 * is accepted here (optlen -1: the kernel's handler is skipped and the call
 * returns 0) and set on the subflows by mu_sockops; one nobody can carry is
 * counted and left to the kernel to refuse, as without the engine.
 */
/* The config, where the bridge answers SO_OOBINLINE, and the state of a socket of ours. */
static __always_inline struct mu_sock_state *oobinline_ours(struct bpf_sock *sk)
{
	const struct mu_bridge_config *cfg;
	struct mu_sock_state *st;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&bridge_config, &zero);
	if (!cfg || !(cfg->flags & MU_BRIDGE_F_OOBINLINE))
		return NULL;
	st = bpf_sk_storage_get(&sock_states, sk, NULL, 0);
	if (!st || !(st->flags & (MU_SOCK_UPGRADED | MU_SOCK_BRIDGE_ONLY)))
		return NULL;
	return st;
}

/* SO_OOBINLINE on one of our MPTCP sockets: answered (MU_BRIDGE_F_OOBINLINE). */
static __always_inline bool oobinline_set(struct bpf_sockopt *ctx, struct bpf_sock *sk)
{
	struct mu_sock_state *st = oobinline_ours(sk);
	void *optval = ctx->optval;

	if (!st || optval + sizeof(int) > ctx->optval_end || ctx->optlen < (int)sizeof(int))
		return false;
	/* As the other flags are set: a plain store (the object targets BPF v2). */
	if (*(int *)optval)
		st->flags |= MU_SOCK_OOBINLINE;
	else
		st->flags &= ~MU_SOCK_OOBINLINE;
	ctx->optlen = -1;	/* the kernel's handler is skipped: the call returns 0 */
	return true;
}

SEC("cgroup/setsockopt")
int mu_setsockopt(struct bpf_sockopt *ctx)
{
	const struct mu_bridge_config *cfg;
	struct mu_bridge_values *br;
	struct bpf_sock *sk = ctx->sk;
	struct mu_sock_state *st;
	__u32 zero = 0;
	void *optval;
	int idx, v;

	if (!sk || sk->protocol != IPPROTO_MPTCP)
		goto pass;
	if (ctx->level == MU_SOL_SOCKET && ctx->optname == MU_SO_OOBINLINE) {
		if (oobinline_set(ctx, sk))
			return 1;
		goto pass;
	}
	idx = sockopt_index(ctx->level, ctx->optname);
	if (idx < 0 || idx >= MU_SOPT_MAX)
		goto pass;
	cfg = bpf_map_lookup_elem(&bridge_config, &zero);
	if (!cfg || !mu_optmask_has(&cfg->refused, idx))
		goto pass;	/* the kernel takes it on MPTCP sockets */
	st = bpf_sk_storage_get(&sock_states, sk, NULL, 0);
	if (!st || !(st->flags & (MU_SOCK_UPGRADED | MU_SOCK_BRIDGE_ONLY)))
		goto pass;	/* not ours: the application's own MPTCP socket */
	if ((st->flags & MU_SOCK_FALLBACK) && mu_optmask_has(&cfg->after_fallback, idx))
		goto pass;	/* one plain TCP subflow now: the kernel passes it through */
	if (!mu_optmask_has(&cfg->carry, idx) || idx >= MU_SOPT_CARRIED_MAX) {
		if (!(st->flags & MU_SOCK_SWAPPING))
			count_sockopt(st, idx, SOPT_REFUSED);
		goto pass;
	}
	if (idx == MU_SOPT_IPV6_TCLASS && sk->family != AF_INET6)
		goto pass;	/* IPV6_TCLASS on an IPv4 socket: the kernel's answer */
	optval = ctx->optval;
	if (optval + sizeof(int) > ctx->optval_end || ctx->optlen < (int)sizeof(int))
		goto pass;
	v = *(int *)optval;
	if (!carried_value_ok(idx, v)) {
		if (idx == MU_SOPT_TCP_WINDOW_CLAMP)
			goto pass;
		bpf_set_retval(-22 /* EINVAL */);
		return 0;
	}
	br = bpf_sk_storage_get(&bridge_values, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!br)
		goto pass;	/* no memory: the kernel refuses it, as without the engine */
	br->val[idx] = v;
	br->set |= 1U << idx;	/* under the socket lock */
	count_sockopt(st, idx, SOPT_CARRIED);
	ctx->optlen = -1;
	return 1;
pass:
	if (ctx->optlen > (int)page_size)
		ctx->optlen = 0;	/* a buffer we only saw the start of: use the caller's */
	return 1;
}

/*
 * getsockopt() on one of our MPTCP sockets, after the kernel's handler: where
 * the kernel refused an option the bridge carries and the application set,
 * answer with the value it set.
 */
SEC("cgroup/getsockopt")
int mu_getsockopt(struct bpf_sockopt *ctx)
{
	struct mu_bridge_values *br;
	struct bpf_sock *sk = ctx->sk;
	void *optval;
	int idx;

	if (!sk || sk->protocol != IPPROTO_MPTCP)
		goto pass;
	/* What the application set, not the MPTCP socket's own (never set) flag. */
	if (ctx->level == MU_SOL_SOCKET && ctx->optname == MU_SO_OOBINLINE) {
		struct mu_sock_state *st = oobinline_ours(sk);

		optval = ctx->optval;
		if (!st || ctx->retval || optval + sizeof(int) > ctx->optval_end)
			goto pass;
		*(int *)optval = !!(st->flags & MU_SOCK_OOBINLINE);
		ctx->optlen = sizeof(int);
		return 1;
	}
	if (ctx->retval == 0)
		goto pass;
	idx = sockopt_index(ctx->level, ctx->optname);
	if (idx < 0 || idx >= MU_SOPT_CARRIED_MAX)
		goto pass;
	br = bpf_sk_storage_get(&bridge_values, sk, NULL, 0);
	if (!br || !(br->set & (1U << idx)))
		goto pass;
	optval = ctx->optval;
	if (optval + sizeof(int) > ctx->optval_end)
		goto pass;
	*(int *)optval = br->val[idx];
	ctx->optlen = sizeof(int);
	ctx->retval = 0;
	return 1;
pass:
	if (ctx->optlen > (int)page_size)
		ctx->optlen = 0;
	return 1;
}

/*
 * Not inlined, and nothing accumulated across the options: a mask of the
 * failed ones, a known constant on each path, kept the verifier from merging
 * them (2^n paths, 0.75 s to load mu_sockops, which run's first call waited for).
 */
static __noinline void apply_failed(const struct mu_sock_state *st, int idx)
{
	if (st)
		count_sockopt(st, idx, SOPT_APPLY_FAILED);
}

/* Set every value the application set through the bridge on this subflow. */
static __always_inline void bridge_apply(struct bpf_sock_ops *ops, struct mptcp_sock *msk,
					 const struct mu_bridge_values *br)
{
	const struct mu_sock_state *st = bpf_sk_storage_get(&sock_states, msk, NULL, 0);
	int v;

#define MU_X(name, lvl, opt, fam, kind)					\
	if ((kind) == MU_OK_BRIDGE && MU_SOPT_##name < MU_SOPT_CARRIED_MAX &&	\
	    (br->set & (1U << MU_SOPT_##name)) &&					\
	    ((fam) == 0 || ops->family == (fam))) {				\
		v = br->val[MU_SOPT_##name < MU_SOPT_CARRIED_MAX ? MU_SOPT_##name : 0];	\
		if (bpf_setsockopt(ops, (lvl), (opt), &v, sizeof(v)))		\
			apply_failed(st, MU_SOPT_##name);			\
	}
	MU_SOCKOPTS(MU_X)
#undef MU_X
}

/*
 * A subflow of one of our connections comes into being (the first one at
 * connect() or listen(), before its SYN; an accepted or MP_JOIN one once
 * established) or times out a retransmission: give it the bridged values. The
 * retransmission timeout is how a value set after the connection was
 * established reaches subflows that already existed; it is also when
 * TCP_USER_TIMEOUT, the option this is most needed for, comes into play.
 */
static __always_inline void bridge_subflow(struct bpf_sock_ops *ops, struct bpf_sock *sk,
					   struct mptcp_sock *msk, bool established)
{
	struct mu_bridge_values *br;
	struct mu_sock_state *st;

	if (established) {
		st = bpf_sk_storage_get(&sock_states, msk, NULL, 0);
		if (!st || !(st->flags & (MU_SOCK_UPGRADED | MU_SOCK_BRIDGE_ONLY)))
			return;
		bpf_sock_ops_cb_flags_set(ops, ops->bpf_sock_ops_cb_flags |
					       BPF_SOCK_OPS_RTO_CB_FLAG);
	}
	br = bpf_sk_storage_get(&bridge_values, msk, NULL, 0);
	if (br && br->set)
		bridge_apply(ops, msk, br);
}

/*
 * Did a listed connection negotiate MPTCP? Decided when it is established, from
 * what is on the wire rather than from MPTCP's internal flags (whose bits move
 * between kernel versions): on the active side whether the SYN-ACK carried an
 * MPTCP option (kind 30), on the passive side whether the socket accept() will
 * hand out is an MPTCP subflow at all. An active connection of ours that fell
 * back is marked, so that the bridge lets the kernel pass options through.
 */
static __always_inline void count_established(struct bpf_sock_ops *ops, struct bpf_sock *sk,
					      struct mptcp_sock *msk)
{
	const struct mu_attachment *att;
	struct mu_sock_state *st;
	__u32 entry, gen;
	bool mptcp;

	if (ops->op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB) {
		/* Room for any option: a shorter buffer makes a found one fail with -ENOSPC. */
		__u8 opt[TCP_MAX_OPTIONS] = { TCPOPT_MPTCP_KIND };

		if (!msk)
			return;
		st = bpf_sk_storage_get(&sock_states, msk, NULL, 0);
		if (!st || !(st->flags & (MU_SOCK_UPGRADED | MU_SOCK_BRIDGE_ONLY)))
			return;
		entry = st->connect_entry;
		gen = st->connect_gen;
		mptcp = bpf_load_hdr_opt(ops, opt, sizeof(opt), 0) > 0;
		if (!mptcp)
			st->flags |= MU_SOCK_FALLBACK;
	} else {
		/*
		 * The subflow's state came from the listening subflow (the attach
		 * engine's bind hook set it); the run engine's listeners have it on
		 * the MPTCP socket only, which an MPTCP connection is a clone of.
		 */
		st = bpf_sk_storage_get(&sock_states, sk, NULL, 0);
		if (!st && msk)
			st = bpf_sk_storage_get(&sock_states, msk, NULL, 0);
		if (!st)
			return;
		entry = st->bind_entry;
		gen = st->bind_gen;
		mptcp = msk != NULL;
	}
	if (!(st->flags & MU_SOCK_UPGRADED) || entry == MU_ENTRY_NONE ||
	    entry == MU_ENTRY_UNLISTED)
		return;
	/* Count only against the policy the entry came from, never a reloaded one. */
	att = bpf_map_lookup_elem(&attached_cgroups, &st->cgroup_id);
	if (!att || att->gen != gen)
		return;
	count_line(att->id, entry - 1, mptcp ? LINE_MPTCP : LINE_FALLBACK);
}

SEC("sockops")
int mu_sockops(struct bpf_sock_ops *ops)
{
	struct mptcp_sock *msk;
	struct bpf_sock *sk;
	__u32 op = ops->op;

	if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB &&
	    op != BPF_SOCK_OPS_TCP_CONNECT_CB && op != BPF_SOCK_OPS_TCP_LISTEN_CB &&
	    op != BPF_SOCK_OPS_RTO_CB)
		return 1;
	sk = ops->sk;
	if (!sk)
		return 1;
	msk = bpf_skc_to_mptcp_sock(sk);
	if (msk)
		bridge_subflow(ops, sk, msk, op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB ||
					     op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB);
	if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	if (msk && !first_subflow(msk, sk))
		return 1;	/* an MP_JOIN subflow: part of a connection counted already */
	count_established(ops, sk, msk);
	return 1;
}

/* ---- stage 3: unlisted addresses stay plain TCP on the wire ------------------ */

#define ETH_HLEN	14
#define VLAN_HLEN	4
#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define TCPOPT_NOP	1
#define TCPOPT_EOL	0
#define TCPOPT_MPTCP	30
#define MPTCPOPT_MP_CAPABLE	0
#define TCP_LISTEN_STATE	10
#define TCP_CLOSE_STATE		7
/* tcx: go on with the next program (classic clsact: TC_ACT_UNSPEC, the same -1). */
#define MU_TC_NEXT	(-1)

/*
 * Weak: the kernels the run engine's bridge loads on (Debian 12's 6.1) do not
 * have it, and the tc programs that call it load only with the attach engine (6.6+).
 */
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym __weak;

/* Where a TCP SYN carrying MP_CAPABLE keeps it; offsets from the network header. */
struct syn_info {
	__u32 l4off;		/* TCP header */
	__u32 optrel;		/* the MP_CAPABLE option, from the TCP header */
	__u32 optlen;
	bool v6;
	__be16 tot_len;		/* IPv4 total length / IPv6 payload length */
	struct bpf_sock_tuple tuple;
};

struct option_scan {
	__u8 opts[64];		/* the SYN's options, TCP_MAX_OPTIONS of them at most */
	__u32 optlen;
	__u32 next;		/* offset of the option to look at */
	__s32 found;		/* offset of MP_CAPABLE, or -1 */
	__u32 len;
};

/* One bpf_loop() step: look at the option at c->next. Returns 1 to stop. */
static long scan_option(__u32 step, struct option_scan *c)
{
	__u32 i = c->next;
	__u8 kind, len;

	if (i >= c->optlen || i >= TCP_MAX_OPTIONS)
		return 1;
	kind = c->opts[i & 63];
	if (kind == TCPOPT_EOL)
		return 1;
	if (kind == TCPOPT_NOP) {
		c->next = i + 1;
		return 0;
	}
	len = c->opts[(i + 1) & 63];
	if (len < 2 || i + len > c->optlen)
		return 1;
	if (kind == TCPOPT_MPTCP && len >= 3 && (c->opts[(i + 2) & 63] >> 4) == MPTCPOPT_MP_CAPABLE) {
		c->found = i;
		c->len = len;
		return 1;
	}
	c->next = i + len;
	return 0;
}

/*
 * A SYN (without ACK) with an MP_CAPABLE option? Read relative to the network
 * header, which the stack has set on both hooks, so that devices with an
 * Ethernet header, with a VLAN tag in the frame, and without any link-layer
 * header (tun, WireGuard, ipip) are parsed alike.
 */
static __always_inline bool parse_syn(struct __sk_buff *skb, struct syn_info *si)
{
	__u16 proto = bpf_ntohs(skb->protocol);
	struct option_scan scan = {};
	struct tcphdr th;

	if (proto == ETH_P_IP) {
		struct iphdr iph;

		if (bpf_skb_load_bytes_relative(skb, 0, &iph, sizeof(iph), BPF_HDR_START_NET))
			return false;
		if (iph.version != 4 || iph.ihl < 5 || iph.protocol != IPPROTO_TCP)
			return false;
		if (iph.frag_off & bpf_htons(0x1fff | 0x2000))	/* fragments: leave them */
			return false;
		si->l4off = iph.ihl * 4;
		si->tot_len = iph.tot_len;
		si->tuple.ipv4.saddr = iph.saddr;
		si->tuple.ipv4.daddr = iph.daddr;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes_relative(skb, 0, &ip6, sizeof(ip6), BPF_HDR_START_NET))
			return false;
		/* A SYN behind extension headers is rare enough to let through untouched. */
		if (ip6.version != 6 || ip6.nexthdr != IPPROTO_TCP)
			return false;
		si->v6 = true;
		si->l4off = sizeof(ip6);
		si->tot_len = ip6.payload_len;
		__builtin_memcpy(si->tuple.ipv6.saddr, &ip6.saddr, 16);
		__builtin_memcpy(si->tuple.ipv6.daddr, &ip6.daddr, 16);
	} else {
		return false;
	}
	if (si->l4off > 60 ||
	    bpf_skb_load_bytes_relative(skb, si->l4off, &th, sizeof(th), BPF_HDR_START_NET))
		return false;
	if (!th.syn || th.ack)
		return false;
	if (si->v6) {
		si->tuple.ipv6.sport = th.source;
		si->tuple.ipv6.dport = th.dest;
	} else {
		si->tuple.ipv4.sport = th.source;
		si->tuple.ipv4.dport = th.dest;
	}
	/*
	 * Scan a copy, one option per bpf_loop() step: variable offsets into the
	 * packet, or an open-coded loop over unknown bytes, defeat the verifier.
	 */
	scan.optlen = th.doff * 4;
	if (scan.optlen <= 20 || scan.optlen > 20 + TCP_MAX_OPTIONS)
		return false;
	scan.optlen -= 20;
	if (bpf_skb_load_bytes_relative(skb, si->l4off + 20, scan.opts, scan.optlen,
					BPF_HDR_START_NET))
		return false;
	scan.found = -1;
	bpf_loop(TCP_MAX_OPTIONS, scan_option, &scan, 0);
	if (scan.found < 0)
		return false;
	si->optrel = 20 + scan.found;
	si->optlen = scan.len;
	return true;
}

/*
 * Where the network header starts, counted from skb->data (which is where
 * bpf_skb_store_bytes and bpf_l4_csum_replace count from): found by matching
 * the header the stack points at against the packet's first bytes, after no
 * link-layer header, an Ethernet one, or one with a VLAN tag. -1 if none fits.
 */
static __always_inline bool header_at(struct __sk_buff *skb, int off, const __u32 nh[5])
{
	__u32 at[5];

	if (bpf_skb_load_bytes(skb, off, at, sizeof(at)))
		return false;
	return at[0] == nh[0] && at[1] == nh[1] && at[2] == nh[2] && at[3] == nh[3] &&
	       at[4] == nh[4];
}

static __always_inline int network_offset(struct __sk_buff *skb)
{
	__u32 nh[5];

	if (bpf_skb_load_bytes_relative(skb, 0, nh, sizeof(nh), BPF_HDR_START_NET))
		return -1;
	if (header_at(skb, 0, nh))
		return 0;
	if (header_at(skb, ETH_HLEN, nh))
		return ETH_HLEN;
	if (header_at(skb, ETH_HLEN + VLAN_HLEN, nh))
		return ETH_HLEN + VLAN_HLEN;
	return -1;
}

/*
 * Replace the option with NOPs and fix the TCP checksum. SYN's MP_CAPABLE is 4
 * bytes (v1) or 12 (v0). The checksum is a sum of 16-bit words counted from
 * the TCP header, so the rewrite works on the 4-byte aligned window around the
 * option: an option at an odd offset (other stacks write them) is summed right.
 */
static __always_inline int strip_option(struct __sk_buff *skb, const struct syn_info *si)
{
	__u8 old[16] = {}, new[16];
	__u32 rel, len, wstart, wlen, first, i;
	int l3off;
	__s64 diff;

	len = si->optlen;
	if (len != 4 && len != 12)
		return -1;
	rel = si->optrel;
	if (rel < 20 || rel > 60 || si->l4off > 60)
		return -1;
	l3off = network_offset(skb);
	if (l3off < 0)
		return -1;
	first = rel & 3;
	wstart = rel & 0x3c;
	wlen = (first + len + 3) & 0x1c;		/* 4, 8, 12 or 16 */
	if (wlen < 4 || wlen > 16)
		return -1;
	wstart += si->l4off + l3off;
	if (bpf_skb_load_bytes(skb, wstart, old, wlen))
		return -1;
	for (i = 0; i < 16; i++)
		new[i] = i >= first && i < first + len ? TCPOPT_NOP : old[i];
	diff = bpf_csum_diff((__be32 *)old, wlen, (__be32 *)new, wlen, 0);
	if (diff < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, wstart, new, wlen, 0))
		return -1;
	return bpf_l4_csum_replace(skb, l3off + si->l4off + 16, 0, diff, 0);
}

/*
 * Is a SYN that found a wildcard listener addressed to this host? The listener
 * lookup does not check that the destination is local, and a SYN routed through
 * this host (to a container, a VM, another machine) to the same port would
 * otherwise lose MP_CAPABLE. The FIB answers: local destinations are "not
 * forwarded"; with forwarding off on the device nothing but local traffic gets
 * past the IP layer. A device that hands its frames to another one (bridge,
 * macvlan and bond ports) is left to the upper device, which sees them again.
 */
static __always_inline bool addressed_here(struct __sk_buff *skb, const struct syn_info *si)
{
	struct sk_buff *kskb = bpf_cast_to_kern_ctx(skb);
	struct bpf_fib_lookup fib = {};
	long ret;

	if (kskb->dev && kskb->dev->rx_handler)
		return false;
	fib.ifindex = skb->ingress_ifindex;
	fib.l4_protocol = IPPROTO_TCP;
	if (si->v6) {
		fib.family = AF_INET6;
		fib.sport = si->tuple.ipv6.sport;
		fib.dport = si->tuple.ipv6.dport;
		__builtin_memcpy(fib.ipv6_src, si->tuple.ipv6.saddr, 16);
		__builtin_memcpy(fib.ipv6_dst, si->tuple.ipv6.daddr, 16);
	} else {
		fib.family = AF_INET;
		fib.sport = si->tuple.ipv4.sport;
		fib.dport = si->tuple.ipv4.dport;
		fib.ipv4_src = si->tuple.ipv4.saddr;
		fib.ipv4_dst = si->tuple.ipv4.daddr;
	}
	fib.tot_len = bpf_ntohs(si->tot_len);
	ret = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	return ret == BPF_FIB_LKUP_RET_NOT_FWDED || ret == BPF_FIB_LKUP_RET_FWD_DISABLED;
}

/* Ours and strict: the sockets stage 3 acts for. */
static __always_inline struct mu_sock_state *strict_state(void *sk)
{
	struct mu_sock_state *st = bpf_sk_storage_get(&sock_states, sk, NULL, 0);

	if (!st || (st->flags & (MU_SOCK_UPGRADED | MU_SOCK_STRICT)) !=
		   (MU_SOCK_UPGRADED | MU_SOCK_STRICT))
		return NULL;
	return st;
}

/*
 * The destination of a SYN whose connect() the engine did not see (TCP Fast
 * Open through sendmsg, say), against the policy in force.
 */
static __always_inline __u32 classify_syn_destination(const struct mu_attachment *att,
						      const struct syn_info *si)
{
	struct mu_lpm_key key = {};
	__u32 a[4];

	if (si->v6) {
		__builtin_memcpy(a, si->tuple.ipv6.daddr, 16);
		lpm_key6(&key, a[0], a[1], a[2], a[3]);
		return policy_lookup(att, &key, bpf_ntohs(si->tuple.ipv6.dport), MU_ROLE_CONNECT);
	}
	lpm_key4(&key, si->tuple.ipv4.daddr);
	return policy_lookup(att, &key, bpf_ntohs(si->tuple.ipv4.dport), MU_ROLE_CONNECT);
}

/*
 * A SYN leaving from one of our sockets whose connect() matched no entry, or
 * whose attachment is gone (detach must not widen what speaks MPTCP).
 */
SEC("tc")
int mu_tc_egress(struct __sk_buff *skb)
{
	const struct mu_attachment *att;
	struct syn_info si = {};
	struct mu_sock_state *st;
	struct mptcp_sock *msk;
	struct bpf_sock *sk;
	__u32 entry;

	if (!parse_syn(skb, &si))
		return MU_TC_NEXT;
	sk = skb->sk;
	if (!sk)
		return MU_TC_NEXT;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return MU_TC_NEXT;
	msk = bpf_skc_to_mptcp_sock(sk);
	if (!msk)
		return MU_TC_NEXT;
	st = strict_state(msk);
	if (!st)
		return MU_TC_NEXT;
	att = bpf_map_lookup_elem(&attached_cgroups, &st->cgroup_id);
	entry = st->connect_entry;
	if (!att)
		entry = MU_ENTRY_UNLISTED;
	else if (entry == MU_ENTRY_NONE)
		entry = classify_syn_destination(att, &si);
	if (entry != MU_ENTRY_UNLISTED || strip_option(skb, &si))
		return MU_TC_NEXT;
	/* Retransmitted SYNs are stripped again but counted once. */
	if (!(st->flags & MU_SOCK_STRIPPED)) {
		st->flags |= MU_SOCK_STRIPPED;
		if (att)
			count(att->id, MU_CNT_KEPT_TCP_OUT);
	}
	return MU_TC_NEXT;
}

/* The listener's own bound address, as bind() gave it (the kernel keeps it). */
static __always_inline bool listener_key(struct bpf_sock *sk, struct mu_lpm_key *key)
{
	if (sk->family == AF_INET) {
		lpm_key4(key, sk->src_ip4);
		return sk->src_ip4 == 0;
	}
	lpm_key6(key, sk->src_ip6[0], sk->src_ip6[1], sk->src_ip6[2], sk->src_ip6[3]);
	return !(sk->src_ip6[0] | sk->src_ip6[1] | sk->src_ip6[2] | sk->src_ip6[3]);
}

/*
 * A SYN arriving for one of our listeners. The listener is classified again,
 * from its bound address against the policy in force, on every MP_CAPABLE SYN:
 * a reload applies to listeners that already exist, and a listener whose
 * attachment is gone (detached) is unlisted. The result is written back to the
 * listener, so the socket accept() hands out names the line that admitted it.
 */
SEC("tc")
int mu_tc_ingress(struct __sk_buff *skb)
{
	struct mu_sock_state *st, *sub;
	const struct mu_attachment *att = NULL;
	struct mu_lpm_key key = {};
	struct syn_info si = {};
	struct bpf_sock_tuple tuple;
	struct mptcp_sock *msk;
	struct bpf_sock *sk;
	__u32 entry = MU_ENTRY_UNLISTED, gen;
	bool wildcard, ours = false;

	if (!parse_syn(skb, &si))
		return MU_TC_NEXT;
	/*
	 * The listener itself, never a TIME_WAIT or request socket of the same
	 * 4-tuple: the kernel hands a SYN that reuses a TIME_WAIT pair to the
	 * listener. No connection has a zero peer, so only listeners match.
	 */
	tuple = si.tuple;
	if (si.v6) {
		__builtin_memset(tuple.ipv6.saddr, 0, 16);
		tuple.ipv6.sport = 0;
	} else {
		tuple.ipv4.saddr = 0;
		tuple.ipv4.sport = 0;
	}
	if (si.v6)
		sk = bpf_skc_lookup_tcp(skb, &tuple, sizeof(tuple.ipv6), BPF_F_CURRENT_NETNS, 0);
	else
		sk = bpf_skc_lookup_tcp(skb, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return MU_TC_NEXT;
	if (sk->state != TCP_LISTEN_STATE)
		goto release;
	msk = bpf_skc_to_mptcp_sock(sk);
	if (!msk)
		goto release;
	st = strict_state(msk);
	if (!st)
		goto release;
	ours = true;
	wildcard = listener_key(sk, &key);
	att = bpf_map_lookup_elem(&attached_cgroups, &st->cgroup_id);
	if (att) {
		gen = att->gen;
		entry = policy_lookup(att, &key, sk->src_port, MU_ROLE_BIND);
		if (st->bind_entry != entry || st->bind_gen != gen) {
			st->bind_entry = entry;
			st->bind_gen = gen;
		}
		sub = bpf_sk_storage_get(&sock_states, sk, NULL, 0);
		if (sub && (sub->bind_entry != entry || sub->bind_gen != gen)) {
			sub->bind_entry = entry;
			sub->bind_gen = gen;
		}
	}
release:
	bpf_sk_release(sk);
	if (!ours || entry != MU_ENTRY_UNLISTED)
		return MU_TC_NEXT;
	if (wildcard && !addressed_here(skb, &si))
		return MU_TC_NEXT;
	if (!strip_option(skb, &si) && att)
		count(att->id, MU_CNT_KEPT_TCP_IN);
	return MU_TC_NEXT;
}

/* ---- sockets that outlive their attachment --------------------------------- */

/*
 * One line per socket of ours that could still send or receive a SYN (a
 * listener, or one not connected yet) and that stage 3 acts for: while any is
 * left, detaching the last attachment keeps stage 3 in place, since removing
 * it would let those sockets negotiate MPTCP on unlisted addresses.
 */
SEC("iter/bpf_sk_storage_map")
int mu_live_sockets(struct bpf_iter__bpf_sk_storage_map *ctx)
{
	struct mu_sock_state *st = ctx->value;
	struct sock *sk = ctx->sk;
	__u8 state;

	if (!sk || !st)
		return 0;
	if ((st->flags & (MU_SOCK_UPGRADED | MU_SOCK_STRICT)) !=
	    (MU_SOCK_UPGRADED | MU_SOCK_STRICT) || sk->sk_protocol != IPPROTO_MPTCP)
		return 0;
	state = sk->__sk_common.skc_state;
	if (state != TCP_LISTEN_STATE && state != TCP_CLOSE_STATE)
		return 0;
	BPF_SEQ_PRINTF(ctx->meta->seq, "%llu %u\n", st->cgroup_id, state);
	return 0;
}
