// SPDX-License-Identifier: GPL-2.0-only
/* Kubernetes pods and containers from cgroup paths, and back (container.h). */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "kube.h"

#define MAX_COMPONENTS	64

static const char *const qos_names[] = { "guaranteed", "burstable", "besteffort" };

const char *kube_qos_str(enum kube_qos qos)
{
	return qos <= KUBE_QOS_BESTEFFORT ? qos_names[qos] : "?";
}

const char *kube_driver_str(enum kube_driver driver)
{
	return driver == KUBE_DRIVER_SYSTEMD ? "systemd" : "cgroupfs";
}

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* @s[0..n) is a UUID whose four separators are @sep: written to @uid with dashes. */
static bool parse_uid(const char *s, size_t n, char sep, char *uid)
{
	size_t i;

	if (n != KUBE_POD_UID_LEN)
		return false;
	for (i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != sep : !is_lower_hex(s[i]))
			return false;
		uid[i] = dash ? '-' : s[i];
	}
	uid[n] = 0;
	return true;
}

/* @s[0..n) is a container id: hex digits, from 12 (a short id) to KUBE_CONTAINER_ID_MAX. */
static bool parse_id(const char *s, size_t n, char *id)
{
	size_t i;

	if (n < 12 || n > KUBE_CONTAINER_ID_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!is_lower_hex(s[i]))
			return false;
	memcpy(id, s, n);
	id[n] = 0;
	return true;
}

/* @s starts with @prefix: what follows it, or NULL. */
static const char *after(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(s, prefix, n) ? NULL : s + n;
}

static bool has_suffix(const char *s, const char *suffix, size_t *stem)
{
	size_t n = strlen(s), m = strlen(suffix);

	if (n < m || strcmp(s + n - m, suffix))
		return false;
	*stem = n - m;
	return true;
}

static const struct {
	const char *prefix;
	const char *runtime;
} scopes[] = {
	{ "cri-containerd-", "containerd" },
	{ "crio-", "cri-o" },
	{ "docker-", "docker" },
};

/*
 * A container's cgroup below the pod's: "<prefix><id>.scope" (systemd) or
 * "<id>", "<prefix><id>" (cgroupfs). Anything else below the pod (CRI-O's
 * conmon, a runtime's own) leaves the container unknown.
 */
static void parse_container(const char *c, enum kube_driver driver, struct kube_pod_ref *ref)
{
	size_t i, n = strlen(c);
	const char *id;

	if (driver == KUBE_DRIVER_SYSTEMD && !has_suffix(c, ".scope", &n))
		return;
	for (i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		id = after(c, scopes[i].prefix);
		if (id && parse_id(id, n - (id - c), ref->container_id)) {
			ref->runtime = scopes[i].runtime;
			return;
		}
	}
	if (driver == KUBE_DRIVER_CGROUPFS && parse_id(c, n, ref->container_id))
		ref->runtime = "";
}

/* QoS class from its name in a path: -1 for none. */
static int qos_from(const char *s, size_t n)
{
	int q;

	for (q = KUBE_QOS_BURSTABLE; q <= KUBE_QOS_BESTEFFORT; q++)
		if (strlen(qos_names[q]) == n && !strncmp(s, qos_names[q], n))
			return q;
	return -1;
}

/*
 * systemd: @c[0] is "<K>.slice" (K: "kubepods", or "kubelet-kubepods" under a
 * cgroup root of the kubelet's own); each level's name repeats its parent's.
 */
static int parse_systemd(char **c, int n, struct kube_pod_ref *ref)
{
	char parent[NAME_MAX + 2], expect[sizeof(parent) + 16];
	const char *pod, *qos;
	size_t stem = 0;
	int q, i = 1;

	if (!has_suffix(c[0], ".slice", &stem) || stem >= NAME_MAX)
		return 0;
	snprintf(parent, sizeof(parent), "%.*s-", (int)stem, c[0]);
	if (i >= n)
		return 0;
	/* "<K>-burstable.slice", "<K>-besteffort.slice", or the pod's "<K>-pod<uid>.slice" */
	qos = after(c[i], parent);
	if (!qos || !has_suffix(c[i], ".slice", &stem))
		return 0;
	pod = after(qos, "pod");
	if (pod) {
		ref->qos = KUBE_QOS_GUARANTEED;
	} else {
		q = qos_from(qos, c[i] + stem - qos);
		if (q < 0 || ++i >= n)
			return 0;
		ref->qos = q;
		snprintf(expect, sizeof(expect), "%s%s-pod", parent, qos_names[q]);
		pod = after(c[i], expect);
		if (!pod || !has_suffix(c[i], ".slice", &stem))
			return 0;
	}
	if (!parse_uid(pod, c[i] + stem - pod, '_', ref->pod_uid))
		return 0;
	if (++i < n)
		parse_container(c[i], KUBE_DRIVER_SYSTEMD, ref);
	ref->driver = KUBE_DRIVER_SYSTEMD;
	return 1;
}

/* cgroupfs: @c[0] is "kubepods", then "[burstable|besteffort/]pod<uid>/<id>". */
static int parse_cgroupfs(char **c, int n, struct kube_pod_ref *ref)
{
	const char *pod;
	int q, i = 1;

	if (i >= n)
		return 0;
	q = qos_from(c[i], strlen(c[i]));
	if (q >= 0 && ++i >= n)
		return 0;
	ref->qos = q < 0 ? KUBE_QOS_GUARANTEED : q;
	pod = after(c[i], "pod");
	if (!pod || !parse_uid(pod, strlen(pod), '-', ref->pod_uid))
		return 0;
	if (++i < n)
		parse_container(c[i], KUBE_DRIVER_CGROUPFS, ref);
	ref->driver = KUBE_DRIVER_CGROUPFS;
	return 1;
}

int kube_pod_from_cgroup(const char *path, struct kube_pod_ref *ref)
{
	char buf[PATH_MAX], *c[MAX_COMPONENTS], *save, *tok;
	size_t stem;
	int n = 0, i;

	memset(ref, 0, sizeof(*ref));
	ref->runtime = "";
	if (!path || strlen(path) >= sizeof(buf))
		return 0;
	strcpy(buf, path);
	for (tok = strtok_r(buf, "/", &save); tok && n < MAX_COMPONENTS;
	     tok = strtok_r(NULL, "/", &save))
		c[n++] = tok;
	/* The first kubepods level, wherever the kubelet's cgroup root put it. */
	for (i = 0; i < n; i++) {
		if (!strcmp(c[i], "kubepods"))
			return parse_cgroupfs(c + i, n - i, ref);
		if (has_suffix(c[i], ".slice", &stem) && stem >= 8 &&
		    !strncmp(c[i] + stem - 8, "kubepods", 8) &&
		    (stem == 8 || c[i][stem - 9] == '-'))
			return parse_systemd(c + i, n - i, ref);
	}
	return 0;
}

int kube_pod_cgroup(const char *uid, enum kube_qos qos, enum kube_driver driver, char *buf,
		    size_t len)
{
	char dashed[KUBE_POD_UID_LEN + 1], under[KUBE_POD_UID_LEN + 1];
	size_t i;
	int r;

	if (!uid || qos > KUBE_QOS_BESTEFFORT ||
	    (!parse_uid(uid, strlen(uid), '-', dashed) &&
	     !parse_uid(uid, strlen(uid), '_', dashed)))
		return -EINVAL;
	for (i = 0; i <= KUBE_POD_UID_LEN; i++)
		under[i] = dashed[i] == '-' ? '_' : dashed[i];
	if (driver == KUBE_DRIVER_SYSTEMD && qos == KUBE_QOS_GUARANTEED)
		r = snprintf(buf, len, "/kubepods.slice/kubepods-pod%s.slice", under);
	else if (driver == KUBE_DRIVER_SYSTEMD)
		r = snprintf(buf, len, "/kubepods.slice/kubepods-%s.slice/kubepods-%s-pod%s.slice",
			     qos_names[qos], qos_names[qos], under);
	else if (qos == KUBE_QOS_GUARANTEED)
		r = snprintf(buf, len, "/kubepods/pod%s", dashed);
	else
		r = snprintf(buf, len, "/kubepods/%s/pod%s", qos_names[qos], dashed);
	return r < 0 ? -EINVAL : (size_t)r >= len ? -ENAMETOOLONG : r;
}
