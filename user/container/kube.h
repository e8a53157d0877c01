/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Containers seen from the host through their cgroup: which Kubernetes pod a
 * cgroup v2 path belongs to, and where a pod's cgroup is. The kubelet lays
 * pods out by QoS class, with either cgroup driver:
 *
 *   systemd:  /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice/
 *                 cri-containerd-<id>.scope (or crio-<id>.scope, docker-<id>.scope)
 *             /kubepods.slice/kubepods-pod<uid>.slice/...    (guaranteed)
 *             with the dashes of <uid> written as underscores
 *   cgroupfs: /kubepods/burstable/pod<uid>/<id>
 *             /kubepods/pod<uid>/<id>                          (guaranteed)
 *
 * A kubelet with a cgroup root of its own puts these below it
 * (/kubelet.slice/kubelet-kubepods.slice/..., /kubelet/kubepods/...).
 */
#ifndef MU_KUBE_H
#define MU_KUBE_H

#include <stddef.h>

enum kube_qos { KUBE_QOS_GUARANTEED, KUBE_QOS_BURSTABLE, KUBE_QOS_BESTEFFORT };
enum kube_driver { KUBE_DRIVER_SYSTEMD, KUBE_DRIVER_CGROUPFS };

#define KUBE_POD_UID_LEN	36	/* a UUID, 8-4-4-4-12 lowercase hex digits */
#define KUBE_CONTAINER_ID_MAX	128

struct kube_pod_ref {
	enum kube_driver driver;
	enum kube_qos qos;
	char pod_uid[KUBE_POD_UID_LEN + 1];		/* with dashes, as the API shows it */
	char container_id[KUBE_CONTAINER_ID_MAX + 1];	/* "" for the pod's own cgroup */
	const char *runtime;	/* "containerd", "cri-o", "docker", or "" (cgroupfs' bare id) */
};

/*
 * Whether the cgroup v2 @path (as /proc/PID/cgroup shows it) is a Kubernetes
 * pod's cgroup or one below it: 1 with @ref filled, 0 when it is not (a path
 * outside kubepods, or one whose kubepods components are malformed).
 */
int kube_pod_from_cgroup(const char *path, struct kube_pod_ref *ref);

/*
 * The cgroup path of the pod @uid (dashes or underscores) of class @qos under
 * @driver, below the kubelet's default cgroup root: its length, -EINVAL for a
 * malformed UID, -ENAMETOOLONG when @len is too small.
 */
int kube_pod_cgroup(const char *uid, enum kube_qos qos, enum kube_driver driver, char *buf,
		    size_t len);

const char *kube_qos_str(enum kube_qos qos);
const char *kube_driver_str(enum kube_driver driver);

#endif /* MU_KUBE_H */
