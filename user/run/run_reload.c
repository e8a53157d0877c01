// SPDX-License-Identifier: GPL-2.0-only
/*
 * `mptcp-upgrade reload` for the run engine's supervisors: each policy file
 * checked here first, then SIGHUP, and "reloaded" once the supervisor says
 * (in its registry entry) that it applied the file, or why it did not.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/output.h"
#include "run.h"

/*
 * Wait until supervisor @r has handled a SIGHUP sent after its registry said
 * @r->reload_seq (it parses and resolves off its notification path, which can
 * take as long as a resolver's timeout): 0 applied, -1 failed or no answer,
 * with the error printed, 2 when it ended with its program meanwhile.
 */
#define RUN_RELOAD_WAIT_MS	30000

/*
 * A supervisor gone with its program (a container that ended during the
 * reload): nothing to reload, no error. Gone while its program runs is one.
 */
static bool ended(const struct run_entry *r)
{
	return kill(r->supervisor, 0) && errno == ESRCH && kill(r->program, 0) && errno == ESRCH;
}

static int wait_run_reload(const struct run_entry *r)
{
	int waited, step = 1;

	/* Steps of 1, 2, 4 ... 20 ms: a reload takes about a millisecond, a resolver seconds. */
	for (waited = 0; waited <= RUN_RELOAD_WAIT_MS; waited += step) {
		struct run_entry *runs = NULL;
		size_t nruns = 0, i;
		int ret = 1;

		run_registry_list(&runs, &nruns);
		for (i = 0; i < nruns; i++)
			if (runs[i].supervisor == r->supervisor)
				break;
		if (i == nruns && ended(r)) {
			ret = 2;	/* ended with its program meanwhile: nothing to reload */
		} else if (i == nruns) {
			p_err("the run supervisor %d is gone", (int)r->supervisor);
			ret = -1;
		} else if (runs[i].reload_seq != r->reload_seq && runs[i].reload_error[0]) {
			p_err("the run supervisor %d kept its policy: %s", (int)r->supervisor,
			      runs[i].reload_error);
			ret = -1;
		} else if (runs[i].reload_seq != r->reload_seq) {
			ret = 0;
		}
		run_registry_free(runs, nruns);
		if (ret != 1)
			return ret;
		usleep(step * 1000);
		step = step < 10 ? 2 * step : 20;
	}
	p_err("the run supervisor %d did not apply the policy within %d s (a slow resolver?): "
	      "see its log", (int)r->supervisor, RUN_RELOAD_WAIT_MS / 1000);
	return -1;
}

/*
 * Each running supervisor of the run engine: its policy file checked here
 * (errors say where, and that supervisor keeps its policy), then SIGHUP, and
 * "reloaded" once the supervisor says it applied it.
 */
int run_reload(const struct run_entry *runs, size_t n)
{
	struct loaded_policy lp;
	char name[64];
	size_t i;
	int ret = 0, err, waited;

	for (i = 0; i < n; i++) {
		if (ended(&runs[i]))
			continue;
		if (load_policy(runs[i].policy, &lp)) {
			/* The agent's copy of a container's policy goes with the container. */
			if (!ended(&runs[i]))
				ret = 1;
			continue;
		}
		err = kill(runs[i].supervisor, SIGHUP) ? errno : 0;
		waited = err ? 0 : wait_run_reload(&runs[i]);
		if (err && !ended(&runs[i])) {
			p_err("can't signal the run supervisor %d: %s", (int)runs[i].supervisor,
			      strerror(err));
			ret = 1;
		} else if (waited < 0) {
			ret = 1;
		} else if (!err && !waited) {
			snprintf(name, sizeof(name), "run[%d] (program %d)", (int)runs[i].supervisor,
				 (int)runs[i].program);
			report_action("reloaded", name, lp.path, &lp.pol, lp.trie.families);
		}
		loaded_policy_free(&lp);
	}
	return ret;
}

int run_reload_pid(pid_t pid)
{
	struct run_entry *runs = NULL;
	size_t nruns = 0, i;
	int ret;

	run_registry_list(&runs, &nruns);
	for (i = 0; i < nruns; i++)
		if (runs[i].program == pid || runs[i].supervisor == pid)
			break;
	if (i == nruns) {
		p_err("no run supervisor serves process %d (see '%s status')", (int)pid,
		      prog_name);
		ret = 1;
	} else {
		ret = run_reload(&runs[i], 1);
	}
	run_registry_free(runs, nruns);
	return ret;
}
