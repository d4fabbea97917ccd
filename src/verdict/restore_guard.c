/*
 * restore_guard.c - the requirements of a checkpoint for its restore:
 * scanned, saved next to the images, read back while they still match.
 */
#include "verdict/restore_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "process/criu_identity.h"
#include "util/json.h"

int mg_guard_scan(mg_criu_files *src, const mg_profile *source, bool no_cache,
		  mg_scan_result **out, bool *source_known, mg_error *err)
{
	mg_feature_set usable, undecided;
	bool present = true;
	*out = NULL;
	if (source != NULL) {
		undecided = source->unknown;
		mg_fset_subtract(&undecided, &source->features);
		usable = source->features;
		mg_fset_union(&usable, &undecided);
	} else if (mg_criu_files_source(src, &usable, &undecided, &present, err) != 0) {
		return -1;
	}
	*source_known = present;
	mg_scan_options opt = {
		.method = MG_METHOD_REACHABLE,
		.explain = MG_FEATURE_NONE,
		.host_features = &usable,
		.host_undecided = &undecided,
		.no_cache = no_cache,
	};
	return mg_scan_criu_files(src, src->name, &opt, out, err);
}

/* --- the saved file ------------------------------------------------------------- */

static int write_all(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, s, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The scan's JSON with the "restore_guard" member added. */
static char *saved_json(const mg_scan_result *r, const char *identity, size_t nimages,
			const char *written_by, mg_error *err)
{
	char *text = mg_scan_result_to_json(r, err);
	if (text == NULL)
		return NULL;
	json_object *root = json_tokener_parse(text);
	free(text);
	json_object *g = json_object_new_object();
	if (root == NULL || g == NULL ||
	    mg_json_add(g, "image_identity", json_object_new_string(identity)) ||
	    mg_json_add(g, "images", json_object_new_int64((int64_t)nimages)) ||
	    mg_json_add(g, "written_by", json_object_new_string(written_by))) {
		json_object_put(root);
		json_object_put(g);
		mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	if (mg_json_add(root, "restore_guard", g)) {
		json_object_put(root);
		mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
	char *copy = s ? strdup(s) : NULL;
	json_object_put(root);
	if (copy == NULL)
		mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	return copy;
}

int mg_guard_save(int dirfd, const char *name, const mg_scan_result *r,
		  const char *written_by, mg_error *err)
{
	char identity[MG_CRIU_IDENTITY_LEN];
	size_t nimages;
	if (mg_criu_dir_identity(dirfd, identity, &nimages, err) != 0)
		return -1;
	char *text = saved_json(r, identity, nimages, written_by, err);
	if (text == NULL)
		return -1;
	char tmp[64];
	snprintf(tmp, sizeof(tmp), ".%s.tmp.%d", MG_GUARD_FILE, (int)getpid());
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	int rc = 0;
	if (fd < 0) {
		rc = mg_fail(err, MG_ERR_IO, "%s/%s: %s", name, MG_GUARD_FILE, strerror(errno));
	} else if (write_all(fd, text, strlen(text)) != 0 || write_all(fd, "\n", 1) != 0 ||
		   fsync(fd) != 0) {
		rc = mg_fail(err, MG_ERR_IO, "%s/%s: %s", name, MG_GUARD_FILE, strerror(errno));
	}
	if (fd >= 0 && close(fd) != 0 && rc == 0)
		rc = mg_fail(err, MG_ERR_IO, "%s/%s: %s", name, MG_GUARD_FILE, strerror(errno));
	if (rc == 0 && renameat(dirfd, tmp, dirfd, MG_GUARD_FILE) != 0)
		rc = mg_fail(err, MG_ERR_IO, "%s/%s: %s", name, MG_GUARD_FILE, strerror(errno));
	if (rc != 0 && fd >= 0)
		unlinkat(dirfd, tmp, 0);
	free(text);
	return rc;
}

/* The saved file's text (NUL-terminated), or NULL: *state says why. */
static char *read_saved(int dirfd, size_t *len, mg_guard_saved *state, char *why, size_t cap)
{
	int fd = openat(dirfd, MG_GUARD_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		*state = errno == ENOENT ? MG_GUARD_NONE : MG_GUARD_BAD;
		snprintf(why, cap, "%s: %s", MG_GUARD_FILE, strerror(errno));
		return NULL;
	}
	uint8_t *data = NULL;
	mg_error e = { 0 };
	int rc = mg_criu_read_fd(fd, MG_GUARD_FILE, MG_GUARD_FILE_MAX, &data, len, &e);
	close(fd);
	char *text = rc == 0 ? realloc(data, *len + 1) : NULL;
	if (text == NULL) {
		free(data);
		*state = MG_GUARD_BAD;
		snprintf(why, cap, "%s", rc == 0 ? "out of memory" : e.msg);
		return NULL;
	}
	text[*len] = '\0';
	return text;
}

int mg_guard_load(int dirfd, const char *name, mg_scan_result **out, mg_guard_saved *state,
		  char *why, size_t cap, mg_error *err)
{
	*out = NULL;
	*why = '\0';
	size_t len;
	char *text = read_saved(dirfd, &len, state, why, cap);
	if (text == NULL)
		return 0;
	json_object *root = json_tokener_parse(text);
	json_object *g = NULL, *id = NULL;
	const char *saved_id = NULL;
	if (root && json_object_object_get_ex(root, "restore_guard", &g) &&
	    json_object_object_get_ex(g, "image_identity", &id) &&
	    json_object_is_type(id, json_type_string))
		saved_id = json_object_get_string(id);
	char identity[MG_CRIU_IDENTITY_LEN];
	int rc = 0;
	if (saved_id == NULL) {
		*state = MG_GUARD_BAD;
		snprintf(why, cap, "%s: no restore_guard.image_identity (not written by scan --save)",
			 MG_GUARD_FILE);
	} else if (mg_criu_dir_identity(dirfd, identity, NULL, err) != 0) {
		rc = -1;
	} else if (strcmp(identity, saved_id) != 0) {
		*state = MG_GUARD_STALE;
		snprintf(why, cap, "%s was saved for other images (%.20s..., these are %.20s...)",
			 MG_GUARD_FILE, saved_id, identity);
	} else {
		char origin[512];
		mg_error e = { 0 };
		snprintf(origin, sizeof(origin), "%s/%s", name, MG_GUARD_FILE);
		if (mg_scan_result_from_json(text, len, origin, out, &e) != 0) {
			*state = MG_GUARD_BAD;
			snprintf(why, cap, "%s", e.msg);
		} else {
			*state = MG_GUARD_FRESH;
		}
	}
	json_object_put(root);
	free(text);
	return rc;
}

void mg_guard_feature_line(const mg_scan_result *r, mg_feature_id f, char *buf, size_t cap)
{
	const mg_feature_info *fi = mg_feature_get(f);
	size_t sites = r->feature_sites[f];
	int n = snprintf(buf, cap, "%s (%zu %s)", fi ? fi->name : "?", sites,
			 sites == 1 ? "site" : "sites");
	for (size_t i = 0; i < r->nevidence && n >= 0 && (size_t)n < cap; i++) {
		const mg_evidence *ev = &r->evidence[i];
		if (ev->feature != f)
			continue;
		const char *base = ev->module ? strrchr(ev->module, '/') : NULL;
		snprintf(buf + n, cap - (size_t)n, ", e.g. %s %s+0x%" PRIx64 ": %s",
			 base ? base + 1 : (ev->module ? ev->module : "?"),
			 ev->function ? ev->function : "?", ev->offset,
			 ev->instruction ? ev->instruction : "?");
		return;
	}
	if (n >= 0 && (size_t)n < cap)
		snprintf(buf + n, cap - (size_t)n, ", no example instruction recorded");
}
