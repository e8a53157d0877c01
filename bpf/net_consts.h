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

#endif /* MU_NET_CONSTS_H */
