/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What crosses the boundary between the BPF programs and the loader: map keys,
 * map values, counter indexes and limits. Fixed-width fields only, so that the
 * layout is the same for clang -target bpf and for the host compiler.
 */
#ifndef MPTCP_UPGRADE_H
#define MPTCP_UPGRADE_H

#ifdef __BPF__
/* vmlinux.h already provides the __u* types. */
#else
#include <linux/types.h>
#endif

/*
 * The layout of everything above, as pinned: each ABI's engine has pins and
 * state of its own (MU_PIN_DIR, MU_STATE_DIR: .../v<ABI>), a loader never runs
 * against another ABI's maps, and a newer one takes the cgroups of an older
 * one over with `mptcp-upgrade upgrade` (user/attach/engine_upgrade.c,
 * docs/upgrades.md). Bump it with any change to this file. Set from the
 * command line only to build a test binary of another ABI.
 */
#ifndef MU_ENGINE_ABI
#define MU_ENGINE_ABI		8
#endif

/* Cgroups that can be attached at the same time, each with its own policy. */
#define MU_MAX_ATTACHMENTS	64
/*
 * How deep below the cgroup v2 root the socket-creation program looks for an
 * attached ancestor. systemd puts services at depth 2 (system.slice/x.service)
 * and containers rarely go past 10; deeper tasks are treated as outside.
 */
#define MU_MAX_CGROUP_DEPTH	32
/* Normalized policy entries one attachment may hold (after host names expand). */
#define MU_MAX_POLICY_ENTRIES	65536
/*
 * Threads whose note (one per thread that made a socket in an attached cgroup)
 * is kept: more than this and the least recently used is evicted, which is
 * harmless unless that thread is between update_socket_protocol and sock_create.
 */
#define MU_MAX_PENDING_NOTES	16384
/* Network namespaces the loader may prepare (netns_info). */
#define MU_MAX_NETNS		4096

/* Address families a policy covers (mu_attachment.families), one bit each. */
#define MU_FAMILY_INET		(1U << 0)
#define MU_FAMILY_INET6		(1U << 1)

/*
 * Which socket calls a policy entry applies to: a `bind` line matches bind(),
 * a `server` line matches connect(), a bare `mptcp@` line matches both.
 */
enum mu_role {
	MU_ROLE_BIND	= 1U << 0,
	MU_ROLE_CONNECT	= 1U << 1,
	MU_ROLE_BOTH	= MU_ROLE_BIND | MU_ROLE_CONNECT,
};

/* Value of the attached-cgroups map, keyed by the cgroup v2 id (__u64). */
struct mu_attachment {
	__u32 id;		/* slot in the per-attachment maps, < MU_MAX_ATTACHMENTS */
	__u32 families;		/* MU_FAMILY_* with at least one policy entry */
	__u32 flags;		/* MU_ATTACH_* */
	/*
	 * Policy generation: bumped by every reload, after the new trie is in
	 * place. An entry index a socket remembers means something only under
	 * the generation it was taken in.
	 */
	__u32 gen;
};

/* Unlisted addresses stay plain TCP on the wire (stage 3); off with --no-strict. */
#define MU_ATTACH_STRICT	(1U << 0)
/* The socket-option bridge acts for the application's own MPTCP sockets too (--bridge-native). */
#define MU_ATTACH_BRIDGE_NATIVE	(1U << 1)

/*
 * Left by the socket-creation program for the thread that called socket(), and
 * consumed by cgroup/sock_create on the socket that call produced: the mark that
 * says "this MPTCP socket is ours", as opposed to one the application asked for.
 */
struct mu_upgrade_note {
	__u64 cgroup_id;	/* the attached cgroup (the key of attached_cgroups) */
	__u32 family;		/* AF_INET or AF_INET6 as passed to socket() */
	__u32 attach_flags;	/* MU_ATTACH_* when the socket was created */
	__u32 attach_id;	/* its slot, for counting without another lookup */
	__u32 native;		/* 1: the application asked for MPTCP (a --bridge-native note) */
	/*
	 * A thread's note stays in the map between its sockets and is
	 * rewritten in place (no map update or delete per socket()): pending
	 * says it is waiting for its socket, owner that it is the thread's own
	 * (an element the LRU evicted and handed to another thread is not).
	 */
	__u32 pending;
	__u32 pad;		/* zero */
	__u64 owner;		/* pid_tgid of the thread that left it */
};

/*
 * Network namespaces the loader has prepared, keyed by their cookie
 * (SO_NETNS_COOKIE): a socket of a strict attachment is upgraded only in a
 * namespace whose interfaces carry stage 3, so that an unlisted address never
 * negotiates MPTCP because its namespace appeared after attach.
 */
#define MU_NETNS_STAGE3		(1U << 0)	/* tc programs on its interfaces */
#define MU_NETNS_MPTCP_OFF	(1U << 1)	/* net.mptcp.enabled=0 when last looked */

/*
 * Policy lookup: one LPM trie per attachment, keyed by family then address, so
 * that a bind() or connect() costs one trie walk whatever the policy's size.
 * The value of a prefix lists, in policy order, the port ranges of every entry
 * that covers it (its own and those of shorter prefixes), so the first range
 * that matches is the first policy line that matches.
 */
#define MU_MAX_RANGES		16
#define MU_LPM_FAMILY_BITS	8

struct mu_lpm_key {
	__u32 prefixlen;	/* MU_LPM_FAMILY_BITS + the address prefix length */
	__u8 family;		/* AF_INET or AF_INET6 */
	__u8 addr[16];		/* network order; IPv4 in the first 4 bytes */
	__u8 pad[3];		/* zero */
};

struct mu_port_range {
	__u16 port_min;		/* host order, inclusive */
	__u16 port_max;
	__u8 roles;		/* MU_ROLE_* this entry applies to */
	__u8 pad[3];
	__u32 entry;		/* index of the entry in the normalized policy */
};

struct mu_policy_value {
	__u32 nr_ranges;
	struct mu_port_range ranges[MU_MAX_RANGES];
};

/*
 * What the engine remembers of each MPTCP socket it upgraded (socket-local
 * storage). The attachment is named by its cgroup id, not by its slot: a slot
 * is reused after detach, a cgroup id is not, so a socket outliving its
 * attachment is recognised as an orphan instead of being taken for the next
 * attachment's. Entry indexes carry the policy generation they were taken in.
 */
#define MU_ENTRY_NONE		0		/* no bind()/connect() seen yet */
#define MU_ENTRY_UNLISTED	0xffffffffU	/* seen, and no policy entry matched */

struct mu_sock_state {
	__u64 cgroup_id;	/* the attachment that upgraded it */
	__u32 flags;		/* MU_SOCK_* */
	__u32 bind_entry;	/* entry index + 1, or MU_ENTRY_NONE / MU_ENTRY_UNLISTED */
	__u32 connect_entry;
	__u32 bind_gen;		/* mu_attachment.gen that bind_entry belongs to */
	__u32 connect_gen;	/* ... and connect_entry */
	__u32 pad;
};

#define MU_SOCK_UPGRADED	(1U << 0)
#define MU_SOCK_STRICT		(1U << 1)	/* unlisted: strip MP_CAPABLE from its SYNs */
#define MU_SOCK_STRIPPED	(1U << 2)	/* a SYN of it was stripped (count once) */
#define MU_SOCK_FALLBACK	(1U << 3)	/* its connection fell back to TCP */
#define MU_SOCK_BRIDGE_ONLY	(1U << 4)	/* native MPTCP, opted in to the bridge only */
#define MU_SOCK_OOBINLINE	(1U << 5)	/* SO_OOBINLINE as the application set it */
/*
 * The run supervisor is still carrying the program's options to it: options
 * refused then are the swap's to count (the socket stays TCP), not the
 * program's errors.
 */
#define MU_SOCK_SWAPPING	(1U << 6)

/* Per-attachment counters, one per-CPU array element each. */
enum mu_attach_counter {
	MU_CNT_SOCKETS_UPGRADED,	/* socket() turned from TCP into MPTCP */
	MU_CNT_SOCKETS_OTHER_FAMILY,	/* TCP socket of a family the policy does not list */
	MU_CNT_SOCKETS_NATIVE_MPTCP,	/* the application asked for MPTCP itself */
	MU_CNT_NOTES_DROPPED,		/* note map full: socket upgraded but not marked */
	MU_CNT_BINDS_LISTED,		/* bind() of an upgraded socket matched an entry */
	MU_CNT_BINDS_UNLISTED,		/* ... matched none */
	MU_CNT_CONNECTS_LISTED,		/* connect() of an upgraded socket matched an entry */
	MU_CNT_CONNECTS_UNLISTED,	/* ... matched none */
	MU_CNT_KEPT_TCP_OUT,		/* unlisted outgoing connection: MP_CAPABLE removed */
	MU_CNT_KEPT_TCP_IN,		/* SYN for an unlisted listener: MP_CAPABLE removed */
	MU_CNT_NETNS_UNPREPARED,	/* left TCP: its network namespace has no stage 3 */
	MU_CNT_NETNS_MPTCP_OFF,		/* left TCP: net.mptcp.enabled=0 in its namespace */
	MU_CNT_SOCKETS_MARKED,		/* upgraded sockets cgroup/sock_create marked as ours */
	MU_CNT_LINE_COUNTERS_FULL,	/* a line event not counted: line_counters is full */
	/*
	 * bind()/connect() of a plain TCP socket of the policy's families in a
	 * prepared namespace: one that escaped the upgrade (created before attach,
	 * through io_uring, or passed in from outside the cgroup).
	 */
	MU_CNT_BINDS_ESCAPED,
	MU_CNT_CONNECTS_ESCAPED,
	MU_CNT_MAX,
};

struct mu_attach_counters {
	__u64 count[MU_CNT_MAX];
};

/* Per policy entry counters (per-CPU hash, created on first match). */
struct mu_line_key {
	__u32 attach_id;
	__u32 entry;
};

struct mu_line_counters {
	__u64 binds;
	__u64 connects;
	__u64 mptcp;		/* connections of this line that negotiated MPTCP */
	__u64 fallback;		/* ... that fell back to TCP (the peer did not ask for it) */
	__u64 escaped;		/* binds and connects of plain TCP sockets that escaped the upgrade */
	/*
	 * Bytes of this line's connections' subflows that closed (the bridge
	 * adds each subflow's tcp_sock bytes_acked and bytes_received when it
	 * enters TCP_CLOSE): sent and acknowledged, received in order. The live
	 * subflows' are added by the reader (docs/observability.md).
	 */
	__u64 sent_bytes;
	__u64 received_bytes;
};

#define MU_MAX_LINE_COUNTERS	(4 * MU_MAX_POLICY_ENTRIES)

/*
 * The line a connection's bytes count against, kept by the bridge on its
 * MPTCP socket and on each subflow (socket-local storage) from the moment it
 * is established: at a subflow's close its bytes go to that line, as long as
 * the attachment's policy is still the one the entry came from.
 */
struct mu_conn_line {
	__u64 cgroup_id;	/* the attachment (mu_sock_state.cgroup_id) */
	__u32 entry;		/* entry index; MU_ENTRY_UNLISTED once counted */
	__u32 gen;		/* mu_attachment.gen the entry belongs to */
};

/*
 * The socket options this project knows by name: one list for the socket-option
 * bridge (both engines) and for the run engine's swap and its recorder, as
 * X(name, level, optname, family, kind). Numbers as in the kernel's uapi
 * (checked against libc's at build time; the BPF side has no libc headers);
 * family 0 for both, else only sockets of that family have it. kind:
 * - MU_OK_BRIDGE: one bpf_setsockopt() takes on a TCP socket; when the running
 *   kernel refuses it on MPTCP sockets, the bridge accepts it for the program
 *   and sets it on every subflow. These come first: their index is also their
 *   slot in struct mu_bridge_values (static asserts in user/bridge/bridge.c).
 * - MU_OK_SWAP: a run swap carries it to the socket put in place (get, then
 *   set); where the new socket refuses it, the socket stays as it was.
 * - MU_OK_HINT: as SWAP, but with no lasting effect before a connection
 *   (TCP_QUICKACK): dropped, and counted, where the new socket refuses it.
 * - MU_OK_KEEP: state that can't be read back to be set again (a key, a
 *   filter, an upper-layer protocol): a socket that set one stays as it is.
 * Which of them the running kernel refuses on MPTCP sockets is probed at load
 * time, every one of them, never assumed; the bridge counts each refusal by
 * name on every socket of ours.
 */
#define MU_SOL_SOCKET	1
#define MU_SOL_IP	0
#define MU_SOL_TCP	6
#define MU_SOL_IPV6	41
#define MU_AF_INET	2
#define MU_AF_INET6	10

#define MU_OK_BRIDGE	1
#define MU_OK_SWAP	2
#define MU_OK_HINT	3
#define MU_OK_KEEP	4

#define MU_SOCKOPTS(X) \
	X(TCP_USER_TIMEOUT,	MU_SOL_TCP,	18, 0, MU_OK_BRIDGE) \
	X(TCP_MAXSEG,		MU_SOL_TCP,	2,  0, MU_OK_BRIDGE) \
	X(TCP_KEEPIDLE,		MU_SOL_TCP,	4,  0, MU_OK_BRIDGE) \
	X(TCP_KEEPINTVL,	MU_SOL_TCP,	5,  0, MU_OK_BRIDGE) \
	X(TCP_KEEPCNT,		MU_SOL_TCP,	6,  0, MU_OK_BRIDGE) \
	X(TCP_SYNCNT,		MU_SOL_TCP,	7,  0, MU_OK_BRIDGE) \
	X(TCP_WINDOW_CLAMP,	MU_SOL_TCP,	10, 0, MU_OK_BRIDGE) \
	X(TCP_THIN_LINEAR_TIMEOUTS, MU_SOL_TCP,	16, 0, MU_OK_BRIDGE) \
	X(TCP_NOTSENT_LOWAT,	MU_SOL_TCP,	25, 0, MU_OK_BRIDGE) \
	X(IPV6_TCLASS,		MU_SOL_IPV6,	67, MU_AF_INET6, MU_OK_BRIDGE) \
	X(SO_REUSEADDR,		MU_SOL_SOCKET,	2,  0, MU_OK_SWAP) \
	X(SO_REUSEPORT,		MU_SOL_SOCKET,	15, 0, MU_OK_SWAP) \
	X(SO_KEEPALIVE,		MU_SOL_SOCKET,	9,  0, MU_OK_SWAP) \
	X(SO_RCVBUF,		MU_SOL_SOCKET,	8,  0, MU_OK_SWAP) \
	X(SO_SNDBUF,		MU_SOL_SOCKET,	7,  0, MU_OK_SWAP) \
	X(SO_RCVBUFFORCE,	MU_SOL_SOCKET,	33, 0, MU_OK_SWAP) \
	X(SO_SNDBUFFORCE,	MU_SOL_SOCKET,	32, 0, MU_OK_SWAP) \
	X(SO_LINGER,		MU_SOL_SOCKET,	13, 0, MU_OK_SWAP) \
	X(SO_MARK,		MU_SOL_SOCKET,	36, 0, MU_OK_SWAP) \
	X(SO_PRIORITY,		MU_SOL_SOCKET,	12, 0, MU_OK_SWAP) \
	X(SO_BINDTODEVICE,	MU_SOL_SOCKET,	25, 0, MU_OK_SWAP) \
	X(SO_BINDTOIFINDEX,	MU_SOL_SOCKET,	62, 0, MU_OK_SWAP) \
	X(SO_RCVLOWAT,		MU_SOL_SOCKET,	18, 0, MU_OK_SWAP) \
	X(SO_RCVTIMEO_OLD,	MU_SOL_SOCKET,	20, 0, MU_OK_SWAP) \
	X(SO_SNDTIMEO_OLD,	MU_SOL_SOCKET,	21, 0, MU_OK_SWAP) \
	X(SO_RCVTIMEO_NEW,	MU_SOL_SOCKET,	66, 0, MU_OK_SWAP) \
	X(SO_SNDTIMEO_NEW,	MU_SOL_SOCKET,	67, 0, MU_OK_SWAP) \
	X(SO_OOBINLINE,		MU_SOL_SOCKET,	10, 0, MU_OK_SWAP) \
	X(SO_DONTROUTE,		MU_SOL_SOCKET,	5,  0, MU_OK_SWAP) \
	X(SO_INCOMING_CPU,	MU_SOL_SOCKET,	49, 0, MU_OK_SWAP) \
	X(SO_BUSY_POLL,		MU_SOL_SOCKET,	46, 0, MU_OK_SWAP) \
	X(SO_TIMESTAMP_OLD,	MU_SOL_SOCKET,	29, 0, MU_OK_SWAP) \
	X(SO_TIMESTAMPNS_OLD,	MU_SOL_SOCKET,	35, 0, MU_OK_SWAP) \
	X(SO_ZEROCOPY,		MU_SOL_SOCKET,	60, 0, MU_OK_SWAP) \
	X(TCP_NODELAY,		MU_SOL_TCP,	1,  0, MU_OK_SWAP) \
	X(TCP_CORK,		MU_SOL_TCP,	3,  0, MU_OK_SWAP) \
	X(TCP_LINGER2,		MU_SOL_TCP,	8,  0, MU_OK_SWAP) \
	X(TCP_DEFER_ACCEPT,	MU_SOL_TCP,	9,  0, MU_OK_SWAP) \
	X(TCP_QUICKACK,		MU_SOL_TCP,	12, 0, MU_OK_HINT) \
	X(TCP_CONGESTION,	MU_SOL_TCP,	13, 0, MU_OK_SWAP) \
	X(TCP_FASTOPEN,		MU_SOL_TCP,	23, 0, MU_OK_SWAP) \
	X(TCP_SAVE_SYN,		MU_SOL_TCP,	27, 0, MU_OK_SWAP) \
	X(TCP_FASTOPEN_CONNECT,	MU_SOL_TCP,	30, 0, MU_OK_SWAP) \
	X(TCP_FASTOPEN_NO_COOKIE, MU_SOL_TCP,	34, 0, MU_OK_SWAP) \
	X(TCP_INQ,		MU_SOL_TCP,	36, 0, MU_OK_SWAP) \
	X(TCP_TX_DELAY,		MU_SOL_TCP,	37, 0, MU_OK_SWAP) \
	X(TCP_MD5SIG,		MU_SOL_TCP,	14, 0, MU_OK_KEEP) \
	X(TCP_REPAIR,		MU_SOL_TCP,	19, 0, MU_OK_KEEP) \
	X(TCP_ULP,		MU_SOL_TCP,	31, 0, MU_OK_KEEP) \
	X(SO_ATTACH_FILTER,	MU_SOL_SOCKET,	26, 0, MU_OK_KEEP) \
	X(SO_ATTACH_BPF,	MU_SOL_SOCKET,	50, 0, MU_OK_KEEP) \
	X(IP_TOS,		MU_SOL_IP,	1,  MU_AF_INET, MU_OK_SWAP) \
	X(IP_TTL,		MU_SOL_IP,	2,  MU_AF_INET, MU_OK_SWAP) \
	X(IP_MTU_DISCOVER,	MU_SOL_IP,	10, MU_AF_INET, MU_OK_SWAP) \
	X(IP_RECVERR,		MU_SOL_IP,	11, MU_AF_INET, MU_OK_SWAP) \
	X(IP_RECVTOS,		MU_SOL_IP,	13, MU_AF_INET, MU_OK_SWAP) \
	X(IP_FREEBIND,		MU_SOL_IP,	15, 0, MU_OK_SWAP) \
	X(IP_TRANSPARENT,	MU_SOL_IP,	19, 0, MU_OK_SWAP) \
	X(IP_BIND_ADDRESS_NO_PORT, MU_SOL_IP,	24, 0, MU_OK_SWAP) \
	X(IP_LOCAL_PORT_RANGE,	MU_SOL_IP,	51, 0, MU_OK_SWAP) \
	X(IPV6_UNICAST_HOPS,	MU_SOL_IPV6,	16, MU_AF_INET6, MU_OK_SWAP) \
	X(IPV6_MTU_DISCOVER,	MU_SOL_IPV6,	23, MU_AF_INET6, MU_OK_SWAP) \
	X(IPV6_RECVERR,		MU_SOL_IPV6,	25, MU_AF_INET6, MU_OK_SWAP) \
	X(IPV6_V6ONLY,		MU_SOL_IPV6,	26, MU_AF_INET6, MU_OK_SWAP) \
	X(IPV6_RECVTCLASS,	MU_SOL_IPV6,	66, MU_AF_INET6, MU_OK_SWAP) \
	X(IPV6_TRANSPARENT,	MU_SOL_IPV6,	75, MU_AF_INET6, MU_OK_SWAP) \
	X(IPV6_FREEBIND,	MU_SOL_IPV6,	78, MU_AF_INET6, MU_OK_SWAP)

/* The index of each, by name: MU_SOPT_TCP_USER_TIMEOUT, ... (never a bare number). */
enum mu_sopt {
#define MU_X(name, level, optname, family, kind) MU_SOPT_##name,
	MU_SOCKOPTS(MU_X)
#undef MU_X
	MU_SOPT_MAX
};

#define MU_SOPT_CARRIED_MAX	10	/* the MU_OK_BRIDGE ones are indexes 0 .. this - 1 */

/* A set of MU_SOCKOPTS' indexes. */
struct mu_optmask {
	__u64 w[2];
};
_Static_assert(MU_SOPT_MAX <= 128, "struct mu_optmask holds 128 options");

static inline int mu_optmask_has(const struct mu_optmask *m, int i)
{
	return i >= 0 && i < 128 && ((m->w[(i >> 6) & 1] >> (i & 63)) & 1);
}

static inline void mu_optmask_set(struct mu_optmask *m, int i)
{
	if (i >= 0 && i < 128)
		m->w[(i >> 6) & 1] |= 1ULL << (i & 63);
}

/*
 * What the loader found on the running kernel (the bridge_config array's one
 * element), by MU_SOCKOPTS' index.
 */
struct mu_bridge_config {
	struct mu_optmask refused;	/* an MPTCP socket refuses it before any connection */
	struct mu_optmask after_fallback; /* ... but takes it once fallen back to TCP */
	struct mu_optmask carry;	/* refused and carried by the bridge (a subset of refused) */
	__u32 flags;			/* MU_BRIDGE_F_* */
	__u32 pad;
};

/*
 * MPTCP refuses SO_OOBINLINE (it carries no urgent data), and a program that
 * sets it on every connection (asyncore's FTP servers, which expect Telnet's
 * urgent Synch) then fails. Where it does, the bridge answers it: the call
 * succeeds, and getsockopt() reads back what was set. No MPTCP connection can
 * deliver urgent data, so the answer changes nothing it could observe; on a
 * connection that fell back to TCP, urgent data from the peer stays out of
 * band (what an MPTCP socket has no way to read) instead of inline.
 */
#define MU_BRIDGE_F_OOBINLINE	(1U << 0)
#define MU_SO_OOBINLINE		10

/* What an application set through the bridge on one MPTCP socket (socket-local storage). */
struct mu_bridge_values {
	__u32 set;		/* bit i: val[i] was set */
	__s32 val[MU_SOPT_CARRIED_MAX];
};

/* Per attachment and option (index attach_id * MU_SOPT_MAX + option), per CPU. */
struct mu_sockopt_counters {
	__u64 carried;		/* setsockopt() the bridge accepted and carries to the subflows */
	__u64 refused;		/* setsockopt() the kernel refused on one of our sockets */
	__u64 apply_failed;	/* a subflow refused a carried value (bpf_setsockopt) */
};

/*
 * What the recorder keeps per socket: the options of MU_SOCKOPTS the program
 * set on it while it was unconnected, and the last of those outside the list
 * (with how many there were).
 */
struct mu_set_opts {
	struct mu_optmask known;
	__s32 other_level, other_optname;
	__u32 nr_other;
	__u32 pad;
};

/*
 * The run engine's copy of a listed call's address (sk_storage of the MPTCP
 * socket it put in place): the kernel reads the caller's sockaddr again after
 * the supervisor has classified it, so a thread that changes it in between
 * could reach an unlisted address over MPTCP. The run engine's bind and
 * connect programs make the kernel use this copy.
 */
struct mu_run_intent {
	__u32 addr[4];		/* network order; IPv4 in addr[0] */
	__u16 port;		/* network order */
	__u8 family;		/* AF_INET, AF_INET6 */
	__u8 role;		/* MU_ROLE_BIND or MU_ROLE_CONNECT */
};

/* The run engine's BPF counters: its object's .bss, which status reads by map id. */
struct mu_run_bpf_counts {
	__u64 lost;		/* option records that could not be made (no memory) */
	__u64 rewritten;	/* listed calls whose address changed after it was classified */
	__u64 refused;		/* ... to another family, which can't be rewritten: EPERM */
};

#endif /* MPTCP_UPGRADE_H */
