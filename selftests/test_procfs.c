// SPDX-License-Identifier: GPL-2.0-only
/*
 * The run engine's /proc parsing (user/common/procfs.c) on fixtures: text as Linux
 * 6.1 to 6.18 print it (taken from these machines), and what is missing,
 * truncated or malformed, which must never be taken for an answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <string.h>

#include <cmocka.h>

#include "common/procfs.h"

/* An epoll's fdinfo: one socket (fd 4, inode 0x3e5944) registered. */
static const char epoll_fdinfo[] =
	"pos:\t0\n"
	"flags:\t02000002\n"
	"mnt_id:\t17\n"
	"ino:\t26\n"
	"tfd:        4 events:       1d data:                4  pos:0 ino:3e5944 sdev:9\n";

static bool cloexec(const char *text)
{
	unsigned long flags;

	return procfs_fdinfo_flags(text, &flags) && (flags & O_CLOEXEC);
}

static void test_cloexec(void **state)
{
	unsigned long flags = 0;

	(void)state;
	assert_true(cloexec(epoll_fdinfo));
	assert_true(cloexec("pos:\t0\nflags:\t02004002\nmnt_id:\t10\n"));
	/* O_RDWR | O_NONBLOCK, no O_CLOEXEC */
	assert_false(cloexec("pos:\t0\nflags:\t04002\nmnt_id:\t10\n"));
	/* O_CLOEXEC is 02000000 in octal: the same digits in decimal are not it */
	assert_false(cloexec("pos:\t0\nflags:\t00000002\n"));
	/* no flags line, a truncated one, a key inside another line */
	assert_false(cloexec("pos:\t0\nmnt_id:\t10\n"));
	assert_false(cloexec("pos:\t0\nflags:"));
	assert_false(cloexec("pos:\t0\nxflags:\t02000002\n"));
	assert_false(cloexec(""));
	/* O_NONBLOCK (04000) comes out of the same line */
	assert_true(procfs_fdinfo_flags("pos:\t0\nflags:\t02004002\n", &flags));
	assert_true(flags & O_NONBLOCK);
	assert_true(procfs_fdinfo_flags("flags:\t02\n", &flags));
	assert_false(flags & O_NONBLOCK);
}

static void test_fdinfo_ino(void **state)
{
	(void)state;
	assert_true(procfs_fdinfo_ino("pos:\t0\nflags:\t02004002\nmnt_id:\t8\nino:\t1276393\n") ==
		    1276393);
	/* a socket's fdinfo from 5.9 to 5.13: no ino line, so no inode */
	assert_true(procfs_fdinfo_ino("pos:\t0\nflags:\t02004002\nmnt_id:\t8\n") == 0);
	/* an epoll's fdinfo has "ino:" in its tfd lines too: the file's own line only */
	assert_true(procfs_fdinfo_ino("pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t1057\n"
				      "tfd:        5 events:       19 data: 5  pos:0 ino:3c81 "
				      "sdev:8\n") == 1057);
	assert_true(procfs_fdinfo_ino("pos:\t0\nino:\tx\n") == 0);
	assert_true(procfs_fdinfo_ino("") == 0);
}

static void test_tgid(void **state)
{
	static const char status[] =
		"Name:\tpython3\nUmask:\t0022\nState:\tR (running)\nTgid:\t4030\nNgid:\t0\n"
		"Pid:\t4031\nPPid:\t4028\nNStgid:\t17\n";

	(void)state;
	assert_int_equal(procfs_status_tgid(status), 4030);
	/* NStgid (the PID namespace's view) is not Tgid */
	assert_int_equal(procfs_status_tgid("Name:\tx\nNStgid:\t17\n"), -1);
	/* read cut before the line, or without a number */
	assert_int_equal(procfs_status_tgid("Name:\tx\nUmask:\t0022\nSta"), -1);
	assert_int_equal(procfs_status_tgid("Name:\tx\nTgid:\t\n"), -1);
	assert_int_equal(procfs_status_tgid("Name:\tx\nTgid:\t0\n"), -1);
	assert_int_equal(procfs_status_tgid(""), -1);
}

static void test_epoll_entry(void **state)
{
	const char *line = strstr(epoll_fdinfo, "tfd:");	/* its registration line */
	unsigned long long data = 0;
	unsigned int events = 0;

	(void)state;
	assert_true(procfs_epoll_entry(line, 4, 0x3e5944, &events, &data));
	assert_int_equal(events, 0x1d);
	assert_int_equal(data, 4);
	/* another descriptor, or the same number on another file (closed and reused) */
	assert_false(procfs_epoll_entry(line, 5, 0x3e5944, &events, &data));
	assert_false(procfs_epoll_entry(line, 4, 0x3e5945, &events, &data));
	/* 64-bit data (a pointer, as libevent and nginx register) and EPOLLET */
	assert_true(procfs_epoll_entry("tfd:       12 events: 80000019 data: 7f3a1c0012a0  "
				       "pos:0 ino:1f sdev:8\n", 12, 0x1f, &events, &data));
	assert_int_equal(events, 0x80000019);
	assert_int_equal(data, 0x7f3a1c0012a0ULL);
	/* the other lines of fdinfo, and a truncated registration */
	assert_false(procfs_epoll_entry("pos:\t0\n", 4, 0x3e5944, &events, &data));
	assert_false(procfs_epoll_entry("ino:\t26\n", 4, 0x26, &events, &data));
	assert_false(procfs_epoll_entry("tfd:        4 events:       1d data:", 4, 0x3e5944,
					&events, &data));
}

static void test_links(void **state)
{
	unsigned long long ino = 0;

	(void)state;
	assert_true(procfs_socket_inode("socket:[4086084]", &ino));
	assert_int_equal(ino, 4086084);
	assert_false(procfs_socket_inode("anon_inode:[eventpoll]", &ino));
	assert_false(procfs_socket_inode("/dev/null", &ino));
	assert_false(procfs_socket_inode("socket:[12", &ino));
	assert_false(procfs_socket_inode("socket:[]", &ino));
	assert_true(procfs_is_epoll("anon_inode:[eventpoll]"));
	assert_false(procfs_is_epoll("anon_inode:[eventfd]"));
	assert_false(procfs_is_epoll("socket:[4086084]"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cloexec),
		cmocka_unit_test(test_fdinfo_ino),
		cmocka_unit_test(test_tgid),
		cmocka_unit_test(test_epoll_entry),
		cmocka_unit_test(test_links),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("procfs", tests, NULL, NULL);
}
