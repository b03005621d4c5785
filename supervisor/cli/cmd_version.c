/*
 * muster version: local, no agent needed (consul's command/version).  The
 * revision and build date come from git at build time (the commit date,
 * as consul's release builds use); both are absent outside a checkout.
 * The protocol line is consul's: the RPC protocol spoken by default and
 * the range understood.
 */
#include <stdio.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "lib/util.h"
#include "supervisor/cli/cli.h"
#include "supervisor/cli/flags.h"
#include "supervisor/cli/version_vcs.h"

#define PROTO_DEFAULT	2
#define PROTO_MIN	2
#define PROTO_MAX	3

static const char version_help[] =
    "Usage: muster version [options]";

struct vinfo {
	char revision[64];
	char date[64];
};

static void
vinfo_get(struct vinfo *v)
{
	const char *s = MUSTER_VCS, *sp = strchr(s, ' ');

	memset(v, 0, sizeof(*v));
	if (sp == NULL)
		return;
	snprintf(v->revision, sizeof(v->revision), "%.*s", (int)(sp - s), s);
	snprintf(v->date, sizeof(v->date), "%s", sp + 1);
}

static void
version_pretty(const struct vinfo *v)
{
	printf("Muster v%s\n", MUSTER_VERSION);
	if (v->revision[0])
		printf("Revision %s\n", v->revision);
	if (v->date[0])
		printf("Build Date %s\n", v->date);
	printf("Protocol %d spoken by default, understands %d to %d",
	    PROTO_DEFAULT, PROTO_MIN, PROTO_MAX);
	if (PROTO_DEFAULT < PROTO_MAX)
		printf(" (agent will automatically use protocol >%d when "
		    "speaking to compatible agents)", PROTO_DEFAULT);
	printf("\n");
}

static void
gen_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void
gen_kv_int(yajl_gen g, const char *k, long long v)
{
	gen_str(g, k);
	yajl_gen_integer(g, v);
}

/* consul's VersionInfo, indented by three spaces as json.MarshalIndent. */
static void
version_json(const struct vinfo *v)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *out;
	size_t len;

	yajl_gen_config(g, yajl_gen_beautify, 1);
	yajl_gen_config(g, yajl_gen_indent_string, "   ");
	yajl_gen_map_open(g);
	gen_str(g, "Version");
	gen_str(g, MUSTER_VERSION);
	gen_str(g, "Revision");
	gen_str(g, v->revision);
	gen_str(g, "Prerelease");
	gen_str(g, "");
	gen_str(g, "BuildDate");
	gen_str(g, v->date);
	gen_str(g, "RPC");
	yajl_gen_map_open(g);
	gen_kv_int(g, "Default", PROTO_DEFAULT);
	gen_kv_int(g, "Min", PROTO_MIN);
	gen_kv_int(g, "Max", PROTO_MAX);
	yajl_gen_map_close(g);
	yajl_gen_map_close(g);
	yajl_gen_get_buf(g, &out, &len);
	while (len > 0 && out[len - 1] == '\n')
		len--;
	printf("%.*s\n", (int)len, (const char *)out);
	yajl_gen_free(g);
}

int
cli_cmd_version(int argc, char **argv)
{
	const char *format = "pretty";
	struct cli_flag cf[] = {
		CLI_STR("format", &format, "string",
		    "Output format {pretty|json}"),
	};
	struct cli_flagset fs[] = { { "Command Options", cf, nitems(cf) } };
	struct vinfo v;
	int r;

	if ((r = cli_flags_parse(argc, argv, version_help, fs,
	    nitems(fs))) < 1)
		return cli_flags_exit(r);
	vinfo_get(&v);
	if (strcmp(format, "pretty") == 0)
		version_pretty(&v);
	else if (strcmp(format, "json") == 0)
		version_json(&v);
	else {
		fprintf(stderr, "Unknown format: %s\n", format);
		return CLI_EXIT_ERR;
	}
	return CLI_EXIT_OK;
}
