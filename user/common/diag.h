/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * MPTCP connections and their subflows, read through sock_diag as ss does:
 * subflows from a TCP dump carrying the "mptcp" ULP info, kept compact and
 * indexed by token; then MPTCP sockets from a dump of protocol 262 (struct
 * mptcp_info), each handed to the caller with its subflows as it arrives and
 * never kept. Only sockets whose cgroup id is one of a set are looked at.
 */
#ifndef MU_DIAG_H
#define MU_DIAG_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mptcp_upgrade.h"

/* struct mptcp_info as Linux 6.10+ lays it out; older kernels send a prefix of it. */
struct mu_mptcp_info {
	__u8 subflows;
	__u8 add_addr_signal;
	__u8 add_addr_accepted;
	__u8 subflows_max;
	__u8 add_addr_signal_max;
	__u8 add_addr_accepted_max;
	__u32 flags;
	__u32 token;
	__u64 write_seq;
	__u64 snd_una;
	__u64 rcv_nxt;
	__u8 local_addr_used;
	__u8 local_addr_max;
	__u8 csum_enabled;
	__u32 retransmits;
	__u64 bytes_retrans;		/* 6.5 */
	__u64 bytes_sent;
	__u64 bytes_received;
	__u64 bytes_acked;
	__u8 subflows_total;		/* 6.8 */
	__u8 reserved[3];
	__u32 last_data_sent;		/* 6.10 */
	__u32 last_data_recv;
	__u32 last_ack_recv;
};

/* Packed tight (20 bytes): stats keeps one per end of every connection and subflow. */
struct mu_endpoint {
	__u8 addr[16];
	__u16 port;
	__u16 family;
};

/* Fields ordered by size, without holes: stats' memory is mostly these and mu_conn. */
struct mu_subflow {
	struct mu_endpoint local, remote;
	__u8 state;			/* TCP_ESTABLISHED, ... */
	__u8 id_loc, id_rem;
	__u32 flags;			/* MPTCP_SUBFLOW_FLAG_* */
	__u32 token;
	__u32 rtt_us, cwnd, total_retrans;
	unsigned long netns;
	__u64 bytes_acked, bytes_received, delivery_rate;	/* bytes/s */
};

struct mu_conn {
	struct mu_endpoint local, remote;
	__u8 state;
	bool has_state;			/* the engine's socket state came with it */
	__u32 st_map_id;		/* the map it came from (the attach engine's, a run bridge's) */
	__u16 info_len;			/* how much of info the kernel filled */
	__u32 nr_subflows;
	__u64 cgroup_id;
	__u64 inode;			/* of the MPTCP socket, as /proc/PID/fd names it */
	unsigned long netns;
	struct mu_mptcp_info info;
	struct mu_sock_state st;
	struct mu_subflow *subflows;	/* valid during the callback only, by local id */
};

/* "a.b.c.d:port" or "[v6]:port". */
void endpoint_str(const struct mu_endpoint *ep, char *out, size_t size);

/* A listening socket that is plain TCP (not an MPTCP listener's subflow socket). */
struct mu_listener {
	struct mu_endpoint local;
	__u64 cgroup_id;
	unsigned long netns;
};

/*
 * Called once per MPTCP connection kept; a negative return (-errno) ends the
 * dump with it. @c and its subflows are the caller's only for the call.
 */
typedef int (*diag_conn_fn)(const struct mu_conn *c, void *ctx);

/*
 * One namespace's subflows, each in a variable-length record (addresses as
 * long as their family needs, counters as LEB128 varints: 25 to 35 bytes for
 * IPv4 where struct mu_subflow takes 96) and an index of (token, offset)
 * pairs sorted when the first connection looks them up.
 */
struct mu_subflow_store {
	unsigned char *rec;
	size_t len, cap;
	struct mu_sf_ref {
		__u32 token;
		__u32 off;
	} *idx;
	size_t nr, cap_idx;
	bool sorted;
};

struct mu_diag {
	struct mu_subflow_store sf;
	struct mu_subflow *scratch;	/* one connection's subflows, decoded */
	size_t cap_scratch;
	struct mu_listener *tcp_listeners;
	size_t nr_tcp_listeners, cap_tcp_listeners;
};

/*
 * Dump the current network namespace (@netns names it), keeping sockets whose
 * cgroup id is in @cgids (sorted): its subflows and plain TCP listeners first
 * (the listeners are appended to @d), then its MPTCP connections, each given to
 * @fn as it arrives (no MPTCP dump when @fn is NULL). @storage_fds (@nr_storage
 * of them) ask the kernel for the engines' socket state too: the attach
 * engine's map, and each run supervisor's bridge's. The subflow dump is taken
 * again when the kernel flags it as interrupted; the connections, once given
 * out, can't be: like ss, what the kernel sent is what is shown. 0 or -errno.
 */
int diag_collect(struct mu_diag *d, unsigned long netns, const __u64 *cgids, size_t nr_cgids,
		 const int *storage_fds, size_t nr_storage, diag_conn_fn fn, void *ctx);
/*
 * What diag_collect does with the kernel's answer, for a buffer of netlink
 * messages from anywhere (the tests, the fuzzer): every length and attribute
 * is validated before use. A TCP dump (@fn NULL) adds subflows and listeners
 * to @d, an MPTCP dump gives each connection to @fn with the subflows @d holds.
 * 0, -EAGAIN for an interrupted dump (every message was still read), or -errno.
 */
int diag_parse(struct mu_diag *d, const void *buf, size_t len, unsigned long netns,
	       const __u64 *cgids, size_t nr_cgids, diag_conn_fn fn, void *ctx);
/*
 * The dump stats makes, of MPTCP sockets only, keeping none: 0 when this
 * kernel's sock_diag answers for protocol 262, -ENOENT when it has no handler.
 */
int diag_probe_mptcp(void);
/* Forget the subflows (the memory stays for the next namespace). */
void diag_clear_subflows(struct mu_diag *d);
void diag_free(struct mu_diag *d);

/* Has the kernel sent this field of mptcp_info? */
#define MU_INFO_HAS(c, field) \
	((c)->info_len >= offsetof(struct mu_mptcp_info, field) + sizeof((c)->info.field))

#endif /* MU_DIAG_H */
