/*
 * restrict_print.c - a plan as a report (run, before exec) or as shell
 * lines (run --dry-run: `eval "$(migratable run ... --dry-run -- CMD)"`
 * sets the same environment).
 */
#include "restrict/restrict.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* 'value' with every ' as '\'' */
static void shell_quote(FILE *out, const char *s)
{
	fputc('\'', out);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", out);
		else
			fputc(*s, out);
	}
	fputc('\'', out);
}

static void print_removed(FILE *out, const mg_restriction *r, size_t ntargets, const char *lead)
{
	char *removed = mg_fset_to_string(&r->removed);
	fprintf(out, "%s%zu target(s): %zu of this host's %zu features on every one; outside "
		"them: %s\n", lead, ntargets, mg_fset_count(&r->allowed), mg_fset_count(&r->host),
		removed && removed[0] ? removed : "none");
	free(removed);
}

static void print_file_lines(FILE *out, const char *lead, const char *text)
{
	const char *p = text;
	while (*p) {
		size_t n = strcspn(p, "\n");
		if (n && p[0] != '#')
			fprintf(out, "%s%.*s\n", lead, (int)n, p);
		p += n + (p[n] == '\n');
	}
}

int mg_restriction_print(FILE *out, const mg_restriction *r, size_t ntargets, bool shell,
			 mg_error *err)
{
	const char *c = shell ? "# " : "migratable run: ";
	print_removed(out, r, ntargets, c);
	for (size_t i = 0; i < r->nenv; i++) {
		if (shell) {
			fprintf(out, "export %s=", r->env[i].name);
			shell_quote(out, r->env[i].value);
			fprintf(out, "   # %s\n", r->env[i].dispatcher);
		} else {
			fprintf(out, "  %s=%s   (%s)\n", r->env[i].name, r->env[i].value,
				r->env[i].dispatcher);
		}
	}
	if (r->nargs) {
		fprintf(out, "%s  after COMMAND:", shell ? "#" : "");
		for (size_t i = 0; i < r->nargs; i++)
			fprintf(out, " %s", r->args[i]);
		fprintf(out, "   (%s)\n", r->args_dispatcher ? r->args_dispatcher : "");
	}
	for (size_t i = 0; i < r->nfiles; i++) {
		const mg_restrict_file *f = &r->files[i];
		if (!shell && !f->applied)
			continue;   /* reported under "cannot restrict" */
		fprintf(out, "%s  %s (%s):\n", shell ? "#" : "", f->path, f->dispatcher);
		print_file_lines(out, shell ? "#    " : "    ", f->text);
	}
	if (r->ncannot)
		fprintf(out, "%snot restricted:\n", c);
	for (size_t i = 0; i < r->ncannot; i++)
		fprintf(out, "%s  %s\n", shell ? "#" : "", r->cannot[i]);
	if (fflush(out) != 0 || ferror(out))
		return mg_fail(err, MG_ERR_IO, "writing the plan: %s", strerror(errno));
	return 0;
}
