// SPDX-License-Identifier: GPL-2.0-only
/*
 * Stages 1 and 2 of the attach engine, the object it loads first (its maps
 * are created here, and the other objects are given them).
 *
 * Stage 1: make the TCP sockets of attached cgroups MPTCP at creation. socket()
 * picks the protocol before any address exists, and update_socket_protocol()
 * is the one place the kernel lets BPF change it. cgroup/sock_create then marks
 * the new MPTCP socket as ours.
 *
 * Stage 2: at bind() and connect() of one of our sockets, match the address
 * against the attachment's policy and remember which entry matched (or that
 * none did). These programs observe only: they never deny a call.
 *
 * Minimum kernel: Linux 6.6, for fmod_ret on update_socket_protocol() (BTF and
 * BPF trampolines, which some kernels refuse); cgroup-local storage (6.2) and
 * bpf_skc_to_mptcp_sock() (5.19) come before it.
 */
#include "common.bpf.h"
#include <bpf/bpf_tracing.h>
#include "policy.bpf.h"
#include "lines.bpf.h"

char LICENSE[] SEC("license") = "GPL";

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
