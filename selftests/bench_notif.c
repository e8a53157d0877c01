// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_notif: the least any seccomp user-notification supervisor can cost on
 * this kernel and machine, whatever it does for a call. A program making a
 * notified call in a loop, a supervisor process answering it (as under run):
 *
 *   native     getppid() with no filter
 *   continue   getppid() notified, answered at once with CONTINUE: what run
 *              adds to every bind() and connect(), listed or not
 *   swap       the same, the supervisor first making an MPTCP socket and
 *              installing it under the caller's descriptor number
 *              (SECCOMP_IOCTL_NOTIF_ADDFD, SETFD) before CONTINUE: the least a
 *              listed call adds (no option, no epoll, no check)
 *
 * Prints "native=NS continue=NS swap=NS sync=0|1" (nanoseconds per call,
 * sync=1 when the kernel woke the supervisor on the caller's CPU, 6.6+).
 * Needs no privilege (no_new_privs), runs no network traffic.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "notif.h"

/* The call's second argument says what the supervisor does. */
enum mode { CONTINUE, SWAP };

static int listener = -1;
static pid_t child;	/* the program, in the supervisor process */

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Answers until the program ends (0), or fails (-1). */
static int supervise(void)
{
	struct pollfd pfd = { .fd = listener, .events = POLLIN };
	struct seccomp_notif n;
	struct seccomp_notif_resp r;

	for (;;) {
		/* As run's workers wait: in poll(), which ends with the program. */
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (pfd.revents & (POLLHUP | POLLERR))
			return 0;
		if (!(pfd.revents & POLLIN))
			continue;
		memset(&n, 0, sizeof(n));
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &n)) {
			if (errno == EINTR || errno == ENOENT)
				continue;
			return -1;
		}
		if (n.data.args[1] == SWAP) {
			int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_MPTCP);
			struct seccomp_notif_addfd a = {
				.id = n.id, .flags = SECCOMP_ADDFD_FLAG_SETFD,
				.srcfd = s, .newfd = (__u32)n.data.args[0],
			};

			if (s < 0 || ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &a) < 0) {
				perror("bench_notif: swap");
				kill(child, SIGKILL);
				exit(1);
			}
			close(s);
		}
		memset(&r, 0, sizeof(r));
		r.id = n.id;
		r.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &r);
	}
}

/* Nanoseconds per getppid(fd, mode) over @n calls, after a warm-up. */
static double loop(long n, int fd, enum mode mode)
{
	double t;
	long i;

	for (i = 0; i < n / 10; i++)
		syscall(SYS_getppid, fd, mode);
	t = now_ns();
	for (i = 0; i < n; i++)
		syscall(SYS_getppid, fd, mode);
	return (now_ns() - t) / n;
}

int main(int argc, char **argv)
{
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(insns) / sizeof(insns[0]), .filter = insns };
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
	double native, cont, swap;
	int sync, fd, sp[2], status;

	if (n < 10) {
		fprintf(stderr, "usage: bench_notif [CALLS >= 10]\n");
		return 2;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp)) {
		perror("bench_notif: socketpair");
		return 1;
	}
	child = fork();
	if (child < 0) {
		perror("bench_notif: fork");
		return 1;
	}
	if (child > 0) {
		/* The supervisor process, until the program is done. */
		close(sp[1]);
		listener = fd_take(sp[0]);
		if (listener < 0) {
			kill(child, SIGKILL);
			waitpid(child, &status, 0);
			return 1;
		}
		sync = !ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
			      SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, 0);
		if (write(sp[0], &sync, sizeof(sync)) != sizeof(sync))
			return 1;
		close(sp[0]);
		if (supervise()) {
			perror("bench_notif: supervisor");
			kill(child, SIGKILL);	/* its numbers would be of failed calls */
		}
		close(listener);
		if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status))
			return 1;
		return WEXITSTATUS(status);
	}
	close(sp[0]);
	/* The descriptor the swap replaces, as run replaces the caller's TCP socket. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		perror("bench_notif: socket");
		return 1;
	}
	native = loop(n, fd, CONTINUE);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		perror("bench_notif: no_new_privs");
		return 1;
	}
	listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
			   &prog);
	if (listener < 0) {
		perror("bench_notif: seccomp");
		return 1;
	}
	if (fd_pass(sp[1], listener) || read(sp[1], &sync, sizeof(sync)) != sizeof(sync)) {
		fprintf(stderr, "bench_notif: can't hand the listener to the supervisor\n");
		return 1;
	}
	/* The supervisor's copy only: if it dies, the calls fail (ENOSYS), not hang. */
	close(listener);
	cont = loop(n, fd, CONTINUE);
	swap = loop(n, fd, SWAP);
	printf("native=%.0f continue=%.0f swap=%.0f sync=%d\n", native, cont, swap, sync);
	return 0;
}
