// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_floor: the least any seccomp supervisor can add to a real socket
 * loop, which bench_notif's getppid() loop does not show: the program's own
 * TCP socket that a swap throws away, the wake-ups of a connect() that really
 * runs, and the CPU time the supervisor itself uses.
 *
 *   bench_floor [-t THREADS] none|continue|swap -- PROGRAM [ARGS...]
 *
 * PROGRAM (bench_sock connect N PORT, or HAProxy) runs under a filter that
 * notifies every bind() and connect() with an IPv4 address (an address length
 * of sizeof(struct sockaddr_in)). This process answers each:
 *
 *   none       no filter at all (the program as it is)
 *   continue   read the address, answer CONTINUE: the least an unlisted call costs
 *   swap       read the address and the caller socket's O_NONBLOCK (a copy
 *              of it, pidfd_getfd: without the flag a program would block),
 *              make an MPTCP socket, install it under the caller's number
 *              (ADDFD, SETFD), answer CONTINUE: the least a listed call
 *              costs, with no other check and no option copied
 *
 * with the synchronous wake-up where the kernel has it (6.6+), from THREADS
 * threads (default 1), each waiting in NOTIF_RECV: one is the least for a
 * program with one thread (a second one is woken for nothing by every call);
 * a program whose threads call at once may do better with more. It passes
 * PROGRAM's standard output through, passes SIGTERM and SIGINT on to it, and
 * prints on standard error
 *
 *   cpu_us=U swapped=S unswapped=M
 *
 * the CPU time (user + system) of the program and of this supervisor
 * together, in microseconds, so that the caller can divide by the loop count,
 * and how many IPv4 calls a swap made MPTCP, or could not (interrupted, no
 * copy of the socket): a floor measured on calls left TCP would be too low.
 * Runs no traffic of its own; the program's loop is the caller's (loopback in
 * a namespace of its own, bench_run.sh).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "notif.h"

enum mode { NONE, CONTINUE, SWAP };

static long usecs(const struct rusage *ru)
{
	return ru->ru_utime.tv_sec * 1000000L + ru->ru_utime.tv_usec +
	       ru->ru_stime.tv_sec * 1000000L + ru->ru_stime.tv_usec;
}

/* bind() and connect() with an address of sizeof(struct sockaddr_in): notified. */
static int install_filter(void)
{
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_connect, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_bind, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, sizeof(struct sockaddr_in), 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(insns) / sizeof(insns[0]), .filter = insns };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
		       &prog);
}

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static int listener = -1;
static enum mode mode;
static pid_t child;

/* Calls of a swap that were not swapped (no socket, no copy, interrupted). */
static long swapped, unswapped, failed;

/* A stop for this process is the program's: it ends, and the supervisor with it. */
static void pass_on(int sig)
{
	if (child > 0)
		kill(child, sig);
}

/* A pidfd per process of the program, opened once (the program's processes are few). */
static struct { pid_t pid; int fd; } pidfds[64];
static pthread_mutex_t pidfds_lock = PTHREAD_MUTEX_INITIALIZER;

static pid_t tgid_of(pid_t tid)
{
	char path[64], line[128];
	pid_t tgid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	if (f)
		fclose(f);
	return tgid;
}

static int pidfd_of(pid_t pid)
{
	int i, fd = -1;

	pthread_mutex_lock(&pidfds_lock);
	for (i = 0; i < 64 && pidfds[i].pid; i++)
		if (pidfds[i].pid == pid) {
			fd = pidfds[i].fd;
			break;
		}
	if (fd < 0 && i < 64) {
		fd = syscall(SYS_pidfd_open, pid, 0);
		if (fd < 0)	/* a thread (before 6.9): its process's leader, once */
			fd = syscall(SYS_pidfd_open, tgid_of(pid), 0);
		if (fd >= 0)
			pidfds[i].pid = pid, pidfds[i].fd = fd;
	}
	pthread_mutex_unlock(&pidfds_lock);
	return fd;
}

/* Answers calls until the program has none left (0), or fails (-1). */
static int supervise(void)
{
	struct seccomp_notif n;
	struct seccomp_notif_resp r;

	for (;;) {
		struct sockaddr_in sin;
		struct iovec local = { .iov_base = &sin, .iov_len = sizeof(sin) };
		struct iovec remote;

		memset(&n, 0, sizeof(n));
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &n)) {
			if (errno == EINTR)
				continue;
			if (errno == ENOENT) {	/* interrupted, or no process left */
				struct pollfd pfd = { .fd = listener, .events = POLLIN };

				if (poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLHUP))
					return 0;
				continue;
			}
			return -1;
		}
		/* The address, as any supervisor must read it to decide. */
		remote.iov_base = (void *)(unsigned long)n.data.args[1];
		remote.iov_len = sizeof(sin);
		if (syscall(SYS_process_vm_readv, n.pid, &local, 1, &remote, 1, 0) != sizeof(sin))
			sin.sin_family = AF_UNSPEC;	/* the call goes on as it is */
		if (mode == SWAP && sin.sin_family == AF_INET) {
			int old = syscall(SYS_pidfd_getfd, pidfd_of(n.pid), (int)n.data.args[0], 0);
			int fl = old >= 0 ? fcntl(old, F_GETFL) : -1;
			int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC |
				       (fl >= 0 && (fl & O_NONBLOCK) ? SOCK_NONBLOCK : 0),
				       IPPROTO_MPTCP);
			struct seccomp_notif_addfd a = {
				.id = n.id, .flags = SECCOMP_ADDFD_FLAG_SETFD,
				.srcfd = s, .newfd = (__u32)n.data.args[0],
			};

			/* ENOENT: the call was interrupted (it is made again), or its thread is gone. */
			if (fl >= 0 && s >= 0 && ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &a) < 0) {
				if (errno != ENOENT)
					return -1;
				fl = -1;
			}
			__atomic_fetch_add(fl >= 0 && s >= 0 ? &swapped : &unswapped, 1,
					   __ATOMIC_RELAXED);
			if (s >= 0)
				close(s);
			if (old >= 0)
				close(old);
		}
		memset(&r, 0, sizeof(r));
		r.id = n.id;
		r.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &r);
	}
}

/* A supervisor that fails ends the program: its numbers would be of failed calls. */
static void *supervise_thread(void *arg)
{
	(void)arg;
	if (supervise()) {
		perror("bench_floor: supervisor");
		__atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
		kill(child, SIGKILL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct rusage child_ru, self_ru;
	long threads = 1, i;
	struct sigaction sa = { .sa_handler = pass_on };
	int sp[2], status;

	if (argc > 2 && !strcmp(argv[1], "-t")) {
		threads = strtol(argv[2], NULL, 10);
		if (threads < 1 || threads > 64) {
			fprintf(stderr, "bench_floor: -t takes 1 to 64 threads\n");
			return 2;
		}
		argc -= 2;
		argv += 2;
	}

	if (argc < 4 || strcmp(argv[2], "--")) {
		fprintf(stderr, "usage: bench_floor [-t THREADS] none|continue|swap -- PROGRAM [ARGS...]\n");
		return 2;
	}
	if (!strcmp(argv[1], "none"))
		mode = NONE;
	else if (!strcmp(argv[1], "continue"))
		mode = CONTINUE;
	else if (!strcmp(argv[1], "swap"))
		mode = SWAP;
	else {
		fprintf(stderr, "bench_floor: unknown mode %s\n", argv[1]);
		return 2;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp)) {
		perror("bench_floor: socketpair");
		return 1;
	}
	/* Before the fork: a stop that comes at once still reaches the program. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	child = fork();
	if (child < 0) {
		perror("bench_floor: fork");
		return 1;
	}
	if (!child) {
		close(sp[0]);
		if (mode != NONE) {
			listener = install_filter();
			if (listener < 0 || fd_pass(sp[1], listener)) {
				perror("bench_floor: filter");
				_exit(1);
			}
			close(listener);
		}
		close(sp[1]);
		execvp(argv[3], argv + 3);
		perror("bench_floor: exec");
		_exit(127);
	}
	close(sp[1]);
	/*
	 * The supervisor threads answer; this one waits for the program. Its
	 * end ends them all, whatever call they wait in (before 6.6 a thread in
	 * NOTIF_RECV is not woken when the program goes).
	 */
	if (mode != NONE) {
		pthread_t t;

		listener = fd_take(sp[0]);
		if (listener < 0) {
			fprintf(stderr, "bench_floor: no listener from the program\n");
			kill(child, SIGKILL);
			failed = 1;
		} else {
			ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
			      SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, 0);
		}
		for (i = 0; listener >= 0 && i < threads; i++)
			if (pthread_create(&t, NULL, supervise_thread, NULL)) {
				perror("bench_floor: thread");
				kill(child, SIGKILL);
				failed = 1;
				break;
			}
	}
	while (wait4(child, &status, 0, &child_ru) != child)
		if (errno != EINTR)
			return 1;
	getrusage(RUSAGE_SELF, &self_ru);
	fprintf(stderr, "cpu_us=%ld swapped=%ld unswapped=%ld\n",
		usecs(&child_ru) + usecs(&self_ru), __atomic_load_n(&swapped, __ATOMIC_RELAXED),
		__atomic_load_n(&unswapped, __ATOMIC_RELAXED));
	if (__atomic_load_n(&failed, __ATOMIC_RELAXED))
		return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
