/*
 * live_tree.c - a live process and its descendants, for scanning a
 * process tree (a container's processes) as CRIU would dump it.
 *
 * /proc/PID/task/TID/children lists the children each thread forked;
 * walking it breadth first from the root gives parents before their
 * children.  The walk is not atomic: a process that forks after it was
 * listed gives a child that is a copy of a listed process (its code was
 * that process's until it execs), and one that exits is simply gone.
 */
#include "process/live_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

/* A tree larger than this is refused (pid_max is at most 4M; a host with
 * this many processes under one root is not a migration unit). */
#define TREE_MAX 65536

static int add_task(GArray *list, GHashTable *seen, pid_t pid, pid_t ppid)
{
	procfs_stat st;
	if (g_hash_table_contains(seen, GINT_TO_POINTER(pid)))
		return 0;               /* a reused PID seen twice: once is enough */
	if (procfs_read_stat(pid, 0, &st) != 0)
		return errno == ENOENT || errno == ESRCH ? 0 : -1;   /* exited meanwhile */
	mg_task t = { .pid = pid, .ppid = ppid, .has_memory = st.state != 'Z' && st.state != 'X' };
	g_array_append_val(list, t);
	g_hash_table_add(seen, GINT_TO_POINTER(pid));
	return 0;
}

/* Append the children of every thread of `parent` to list. */
static int add_children(GArray *list, GHashTable *seen, pid_t parent, pid_t *kids,
			mg_error *err)
{
	pid_t *tids;
	size_t ntids;
	if (procfs_list_tasks(parent, &tids, &ntids) != 0)
		return errno == ENOENT || errno == ESRCH ? 0 : mg_fail(err, MG_ERR_IO,
			"cannot list /proc/%d/task: %s", (int)parent, strerror(errno));
	int rc = 0;
	for (size_t i = 0; i < ntids && rc == 0; i++) {
		size_t n;
		if (procfs_children(parent, tids[i], kids, TREE_MAX, &n) != 0) {
			if (errno == ENOENT || errno == ESRCH)
				continue;               /* the thread exited */
			rc = mg_fail(err, errno == EACCES ? MG_ERR_PERMISSION : MG_ERR_IO,
				     "cannot read /proc/%d/task/%d/children: %s", (int)parent,
				     (int)tids[i], strerror(errno));
			break;
		}
		for (size_t k = 0; k < n && rc == 0; k++) {
			if (list->len >= TREE_MAX)
				rc = mg_fail(err, MG_ERR_UNSUPPORTED, "pid %d: more than %d processes in "
					     "the tree", (int)g_array_index(list, mg_task, 0).pid, TREE_MAX);
			else if (add_task(list, seen, kids[k], parent) != 0)
				rc = mg_fail(err, MG_ERR_IO, "cannot read /proc/%d/stat: %s",
					     (int)kids[k], strerror(errno));
		}
	}
	free(tids);
	return rc;
}

bool mg_live_has_exited(pid_t pid)
{
	procfs_stat st;
	if (procfs_read_stat(pid, 0, &st) != 0)
		return errno == ENOENT || errno == ESRCH;
	return st.state == 'Z' || st.state == 'X';
}

int mg_live_list_tree(pid_t pid, mg_task **tasks, size_t *n, mg_error *err)
{
	*tasks = NULL;
	*n = 0;
	GArray *list = g_array_new(FALSE, FALSE, sizeof(mg_task));
	GHashTable *seen = g_hash_table_new(g_direct_hash, g_direct_equal);
	pid_t *kids = malloc(TREE_MAX * sizeof(*kids));
	int rc = kids ? 0 : mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	if (rc == 0 && add_task(list, seen, pid, 0) != 0)
		rc = mg_fail(err, errno == EACCES ? MG_ERR_PERMISSION : MG_ERR_IO,
			     "cannot read /proc/%d/stat: %s", (int)pid, strerror(errno));
	if (rc == 0 && list->len == 0)
		rc = mg_fail(err, MG_ERR_NO_PROCESS, "no such process: %d", (int)pid);
	for (guint i = 0; i < list->len && rc == 0; i++)
		rc = add_children(list, seen, g_array_index(list, mg_task, i).pid, kids, err);
	free(kids);
	g_hash_table_destroy(seen);
	mg_task *out = rc == 0 ? malloc(list->len * sizeof(*out)) : NULL;
	if (rc == 0 && out == NULL)
		rc = mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	if (rc == 0) {
		memcpy(out, list->data, list->len * sizeof(*out));
		*tasks = out;
		*n = list->len;
	}
	g_array_free(list, TRUE);
	return rc;
}
