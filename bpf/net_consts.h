/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The few constants BPF code needs that vmlinux.h does not carry: they are
 * preprocessor macros in the kernel, so BTF never sees them. SOCK_STREAM,
 * IPPROTO_TCP and IPPROTO_MPTCP are enum values and do come with vmlinux.h.
 */
#ifndef MU_NET_CONSTS_H
#define MU_NET_CONSTS_H

#define AF_INET		2
#define AF_INET6	10

/* socket()'s type carries SOCK_NONBLOCK and SOCK_CLOEXEC above these bits. */
#define SOCK_TYPE_MASK	0xf

/* TCP options (include/net/tcp.h, net/mptcp/protocol.h). */
#define TCPOPT_EOL		0
#define TCPOPT_NOP		1
#define TCPOPT_MPTCP		30
#define MPTCPOPT_MP_CAPABLE	0
#define TCP_MAX_OPTIONS		40

/* Socket states, as sk_state and bpf_sock->state hold them. */
#define TCP_CLOSE_STATE		7
#define TCP_LISTEN_STATE	10

#endif /* MU_NET_CONSTS_H */
