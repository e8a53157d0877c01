// SPDX-License-Identifier: GPL-2.0-only
/*
 * Kubernetes pods from cgroup paths and back (user/container/container.c):
 * both kubelet cgroup drivers, the three QoS classes, the container scopes of
 * containerd, CRI-O and Docker, a kubelet with a cgroup root of its own, and
 * malformed paths, which must never be taken for a pod.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "container/kube.h"

#define UID	"0f6c8a4e-3b2d-4c1a-9e8f-7a6b5c4d3e2f"
#define UID_	"0f6c8a4e_3b2d_4c1a_9e8f_7a6b5c4d3e2f"
#define CID	"3a5f0c9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a19"

struct pod_case {
	const char *path;
	enum kube_driver driver;
	enum kube_qos qos;
	const char *container;	/* "" when none */
	const char *runtime;
};

static const struct pod_case pods[] = {
	/* systemd driver */
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/"
	  "cri-containerd-" CID ".scope", KUBE_DRIVER_SYSTEMD, KUBE_QOS_BURSTABLE, CID,
	  "containerd" },
	{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice/"
	  "crio-" CID ".scope", KUBE_DRIVER_SYSTEMD, KUBE_QOS_BESTEFFORT, CID, "cri-o" },
	{ "/kubepods.slice/kubepods-pod" UID_ ".slice/docker-" CID ".scope",
	  KUBE_DRIVER_SYSTEMD, KUBE_QOS_GUARANTEED, CID, "docker" },
	{ "/kubepods.slice/kubepods-pod" UID_ ".slice", KUBE_DRIVER_SYSTEMD,
	  KUBE_QOS_GUARANTEED, "", "" },
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice",
	  KUBE_DRIVER_SYSTEMD, KUBE_QOS_BURSTABLE, "", "" },
	/* a cgroup below the container's (a process in a nested cgroup) */
	{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice/"
	  "cri-containerd-" CID ".scope/init", KUBE_DRIVER_SYSTEMD, KUBE_QOS_BESTEFFORT, CID,
	  "containerd" },
	/* CRI-O's conmon: in the pod, no container */
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/"
	  "crio-conmon-" CID ".scope", KUBE_DRIVER_SYSTEMD, KUBE_QOS_BURSTABLE, "", "" },
	/* the kubelet's own cgroup root (--cgroup-root=/kubelet.slice) */
	{ "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
	  "kubelet-kubepods-besteffort-pod" UID_ ".slice/cri-containerd-" CID ".scope",
	  KUBE_DRIVER_SYSTEMD, KUBE_QOS_BESTEFFORT, CID, "containerd" },
	/* cgroupfs driver */
	{ "/kubepods/burstable/pod" UID "/" CID, KUBE_DRIVER_CGROUPFS, KUBE_QOS_BURSTABLE,
	  CID, "" },
	{ "/kubepods/besteffort/pod" UID "/" CID, KUBE_DRIVER_CGROUPFS, KUBE_QOS_BESTEFFORT,
	  CID, "" },
	{ "/kubepods/pod" UID "/" CID, KUBE_DRIVER_CGROUPFS, KUBE_QOS_GUARANTEED, CID, "" },
	{ "/kubepods/pod" UID, KUBE_DRIVER_CGROUPFS, KUBE_QOS_GUARANTEED, "", "" },
	{ "/kubepods/burstable/pod" UID "/crio-" CID, KUBE_DRIVER_CGROUPFS, KUBE_QOS_BURSTABLE,
	  CID, "cri-o" },
	/* a kind node: the node's own container, then the kubelet's tree */
	{ "/docker/" CID "/kubepods/besteffort/pod" UID "/" CID, KUBE_DRIVER_CGROUPFS,
	  KUBE_QOS_BESTEFFORT, CID, "" },
	/* no leading slash, a trailing one, doubled ones */
	{ "kubepods//pod" UID "/" CID "/", KUBE_DRIVER_CGROUPFS, KUBE_QOS_GUARANTEED, CID, "" },
};

static void test_pods(void **state)
{
	struct kube_pod_ref ref;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(pods) / sizeof(pods[0]); i++) {
		const struct pod_case *c = &pods[i];

		if (kube_pod_from_cgroup(c->path, &ref) != 1)
			fail_msg("not taken for a pod: %s", c->path);
		assert_int_equal(ref.driver, c->driver);
		assert_int_equal(ref.qos, c->qos);
		assert_string_equal(ref.pod_uid, UID);
		assert_string_equal(ref.container_id, c->container);
		assert_string_equal(ref.runtime, c->runtime);
	}
}

static const char *const not_pods[] = {
	"/",
	"",
	"/system.slice/haproxy.service",
	"/user.slice/user-0.slice/session-1.scope",
	"/kubepods.slice",					/* the root of all pods */
	"/kubepods.slice/kubepods-burstable.slice",		/* a QoS class, no pod */
	"/kubepods",
	"/kubepods/besteffort",
	/* a UID with dashes where systemd writes underscores, and the reverse */
	"/kubepods.slice/kubepods-pod" UID ".slice",
	"/kubepods/pod" UID_,
	/* short, long, uppercase and non-hex UIDs */
	"/kubepods/pod0f6c8a4e-3b2d-4c1a-9e8f-7a6b5c4d3e2",
	"/kubepods/pod0f6c8a4e-3b2d-4c1a-9e8f-7a6b5c4d3e2f0",
	"/kubepods/pod0F6C8A4E-3B2D-4C1A-9E8F-7A6B5C4D3E2F",
	"/kubepods/pod0f6c8a4e-3b2d-4c1a-9e8f-7a6b5c4d3e2g",
	"/kubepods/podnot-a-uid",
	/* an unknown QoS class, or a class and a pod that disagree */
	"/kubepods/silver/pod" UID,
	"/kubepods.slice/kubepods-silver.slice/kubepods-silver-pod" UID_ ".slice",
	"/kubepods.slice/kubepods-burstable.slice/kubepods-besteffort-pod" UID_ ".slice",
	"/kubepods.slice/kubepods-burstable.slice/kubepods-pod" UID_ ".slice",
	/* a pod slice without .slice, a pod directory with one */
	"/kubepods.slice/kubepods-pod" UID_,
	"/kubepods/pod" UID ".slice",
	/* names that only look like kubepods */
	"/mykubepods/pod" UID,
	"/notkubepods.slice/notkubepods-pod" UID_ ".slice",
	"/kubepods-extra.slice/kubepods-pod" UID_ ".slice",
};

static void test_not_pods(void **state)
{
	struct kube_pod_ref ref;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(not_pods) / sizeof(not_pods[0]); i++) {
		if (kube_pod_from_cgroup(not_pods[i], &ref) != 0)
			fail_msg("taken for a pod: %s", not_pods[i]);
	}
	assert_int_equal(kube_pod_from_cgroup(NULL, &ref), 0);
}

/* A container id that is not one: in the pod, container unknown. */
static void test_bad_container(void **state)
{
	static const char *const paths[] = {
		"/kubepods/pod" UID "/not-hex-at-all",
		"/kubepods/pod" UID "/3a5f0c9d",	/* shorter than a short id */
		/* no .scope */
		"/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" CID,
		"/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-XYZ.scope",
		"/kubepods.slice/kubepods-pod" UID_ ".slice/podman-" CID ".scope",
	};
	struct kube_pod_ref ref;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (kube_pod_from_cgroup(paths[i], &ref) != 1)
			fail_msg("not taken for a pod: %s", paths[i]);
		assert_string_equal(ref.pod_uid, UID);
		assert_string_equal(ref.container_id, "");
	}
}

static void test_pod_cgroup(void **state)
{
	static const struct {
		enum kube_driver driver;
		enum kube_qos qos;
		const char *path;
	} want[] = {
		{ KUBE_DRIVER_SYSTEMD, KUBE_QOS_GUARANTEED,
		  "/kubepods.slice/kubepods-pod" UID_ ".slice" },
		{ KUBE_DRIVER_SYSTEMD, KUBE_QOS_BURSTABLE,
		  "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice" },
		{ KUBE_DRIVER_SYSTEMD, KUBE_QOS_BESTEFFORT,
		  "/kubepods.slice/kubepods-besteffort.slice/"
		  "kubepods-besteffort-pod" UID_ ".slice" },
		{ KUBE_DRIVER_CGROUPFS, KUBE_QOS_GUARANTEED, "/kubepods/pod" UID },
		{ KUBE_DRIVER_CGROUPFS, KUBE_QOS_BURSTABLE, "/kubepods/burstable/pod" UID },
		{ KUBE_DRIVER_CGROUPFS, KUBE_QOS_BESTEFFORT, "/kubepods/besteffort/pod" UID },
	};
	struct kube_pod_ref ref;
	char buf[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int n = kube_pod_cgroup(UID, want[i].qos, want[i].driver, buf, sizeof(buf));

		assert_int_equal(n, strlen(want[i].path));
		assert_string_equal(buf, want[i].path);
		/* the systemd form of the UID is taken too */
		assert_int_equal(kube_pod_cgroup(UID_, want[i].qos, want[i].driver, buf,
						 sizeof(buf)), n);
		assert_string_equal(buf, want[i].path);
		/* and the path reads back as the same pod */
		assert_int_equal(kube_pod_from_cgroup(buf, &ref), 1);
		assert_int_equal(ref.driver, want[i].driver);
		assert_int_equal(ref.qos, want[i].qos);
		assert_string_equal(ref.pod_uid, UID);
		assert_string_equal(ref.container_id, "");
	}
	assert_int_equal(kube_pod_cgroup("not-a-uid", KUBE_QOS_BURSTABLE, KUBE_DRIVER_SYSTEMD,
					 buf, sizeof(buf)), -EINVAL);
	assert_int_equal(kube_pod_cgroup(NULL, KUBE_QOS_BURSTABLE, KUBE_DRIVER_SYSTEMD, buf,
					 sizeof(buf)), -EINVAL);
	assert_int_equal(kube_pod_cgroup(UID, 7, KUBE_DRIVER_SYSTEMD, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(kube_pod_cgroup(UID, KUBE_QOS_BURSTABLE, KUBE_DRIVER_CGROUPFS, buf, 20),
			 -ENAMETOOLONG);
	assert_string_equal(kube_qos_str(KUBE_QOS_BESTEFFORT), "besteffort");
	assert_string_equal(kube_driver_str(KUBE_DRIVER_CGROUPFS), "cgroupfs");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pods),
		cmocka_unit_test(test_not_pods),
		cmocka_unit_test(test_bad_container),
		cmocka_unit_test(test_pod_cgroup),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("container", tests, NULL, NULL);
}
