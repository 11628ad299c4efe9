/*
 * flamegraph: `cpuprof flamegraph`, a self-contained interactive SVG flame graph in the
 * style of FlameGraph's flamegraph.pl: the root ("all") at the bottom, children in name
 * order, widths proportional to the value (the sample count by default), colors from a
 * hash of the name (warm palette; "[...]" frames grey). Frames under FG_MIN_FRACTION of
 * the total are not drawn, so the file stays small; every drawn frame carries its exact
 * value. The embedded script (no external resources) shows details on hover, zooms on
 * click, searches with Ctrl-F or the Search button, and on load marks the document with
 * data-fg-ready="1" and data-fg-widest (the widest child of the root) for tests. Names
 * are escaped and made valid UTF-8, so the SVG is always well-formed XML.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "calltree.h"
#include "common.h"

#define FG_WIDTH 1200
#define FG_PAD 10
#define FG_FRAME_H 16  /* a frame is FG_FRAME_H - 1 high, with a 1 px gap */
#define FG_TOP 60      /* title, subtitle and buttons */
#define FG_BOTTOM 30   /* the details line */
#define FG_CHAR_W 7.08 /* 12 px Verdana, about 0.59 em per character */
#define FG_MIN_FRACTION 0.001
#define FG_MAX_DEPTH 4096 /* deeper frames are not drawn (the SVG height must stay sane) */

/* The interactive part. It must never contain the CDATA terminator. */
static const char fg_script[] =
    "\"use strict\";\n"
    "var fg = { W: 1200, PAD: 10, CW: 7.08, svg: null, frames: [], byId: {}, root: null,\n"
    "  total: 0, zoomed: null, term: null, details: null };\n"
    "function fg_init(evt) {\n"
    "  var svg = document.documentElement, gs, i, widest = null;\n"
    "  fg.svg = svg;\n"
    "  fg.total = Number(svg.getAttribute(\"data-total\")) || 0;\n"
    "  fg.details = document.getElementById(\"fg_details\");\n"
    "  gs = document.getElementById(\"fg_frames\").children;\n"
    "  for (i = 0; i < gs.length; i++) {\n"
    "    var g = gs[i], r = g.getElementsByTagName(\"rect\")[0];\n"
    "    var f = { g: g, r: r, t: g.getElementsByTagName(\"text\")[0], id: g.id,\n"
    "      name: g.getAttribute(\"data-name\"), v: Number(g.getAttribute(\"data-value\")),\n"
    "      x: Number(r.getAttribute(\"x\")), w: Number(r.getAttribute(\"width\")),\n"
    "      fill: r.getAttribute(\"fill\"), parent: null, kids: [], hit: false, cov: false };\n"
    "    fg.frames.push(f);\n"
    "    fg.byId[f.id] = f;\n"
    "  }\n"
    "  fg.frames.forEach(function (f) {\n"
    "    var p = f.g.getAttribute(\"data-p\");\n"
    "    if (p && fg.byId[p]) {\n"
    "      f.parent = fg.byId[p];\n"
    "      f.parent.kids.push(f);\n"
    "    } else if (!fg.root) {\n"
    "      fg.root = f;\n"
    "    }\n"
    "  });\n"
    "  if (fg.root) {\n"
    "    fg.root.kids.forEach(function (k) { if (!widest || k.v > widest.v) { widest = k; } });\n"
    "  }\n"
    "  svg.setAttribute(\"data-fg-widest\", widest ? widest.name : \"\");\n"
    "  svg.setAttribute(\"data-fg-widest-value\", widest ? String(widest.v) : \"0\");\n"
    "  svg.addEventListener(\"click\", fg_click);\n"
    "  svg.addEventListener(\"mouseover\", fg_over);\n"
    "  svg.addEventListener(\"mouseout\", fg_out);\n"
    "  window.addEventListener(\"keydown\", fg_key);\n"
    "  fg_from_hash();\n"
    "  svg.setAttribute(\"data-fg-ready\", \"1\");\n"
    "}\n"
    "function fg_frame(el) {\n"
    "  while (el && el !== fg.svg) {\n"
    "    if (el.id && fg.byId[el.id]) { return fg.byId[el.id]; }\n"
    "    el = el.parentNode;\n"
    "  }\n"
    "  return null;\n"
    "}\n"
    "function fg_label(f, w) {\n"
    "  var n = Math.floor((w - 6) / fg.CW), cps = Array.from(f.name);\n"
    "  f.t.textContent = n < 3 ? \"\" : cps.length <= n ? f.name : cps.slice(0, n - 2).join(\"\") "
    "+ \"..\";\n"
    "}\n"
    "function fg_place(f, x, w) {\n"
    "  f.r.setAttribute(\"x\", x.toFixed(2));\n"
    "  f.r.setAttribute(\"width\", w.toFixed(2));\n"
    "  f.t.setAttribute(\"x\", (x + 3).toFixed(2));\n"
    "  fg_label(f, w);\n"
    "}\n"
    "function fg_zoom(f) {\n"
    "  var scale, inside = {}, anc = {}, stack = [f], o, a, k;\n"
    "  if (f === fg.root || !(f.w > 0)) { fg_unzoom(); return; }\n"
    "  scale = (fg.W - 2 * fg.PAD) / f.w;\n"
    "  while (stack.length) {\n"
    "    o = stack.pop();\n"
    "    inside[o.id] = true;\n"
    "    for (k = 0; k < o.kids.length; k++) { stack.push(o.kids[k]); }\n"
    "  }\n"
    "  for (a = f.parent; a; a = a.parent) { anc[a.id] = true; }\n"
    "  fg.frames.forEach(function (o) {\n"
    "    o.g.classList.remove(\"fg_hide\", \"fg_parent\");\n"
    "    if (inside[o.id]) {\n"
    "      fg_place(o, fg.PAD + (o.x - f.x) * scale, o.w * scale);\n"
    "    } else if (anc[o.id]) {\n"
    "      fg_place(o, fg.PAD, fg.W - 2 * fg.PAD);\n"
    "      o.g.classList.add(\"fg_parent\");\n"
    "    } else {\n"
    "      o.g.classList.add(\"fg_hide\");\n"
    "    }\n"
    "  });\n"
    "  fg.zoomed = f;\n"
    "  document.getElementById(\"fg_reset\").classList.remove(\"fg_hide\");\n"
    "  fg.svg.setAttribute(\"data-fg-zoom\", f.id);\n"
    "}\n"
    "function fg_unzoom() {\n"
    "  fg.frames.forEach(function (o) {\n"
    "    o.g.classList.remove(\"fg_hide\", \"fg_parent\");\n"
    "    fg_place(o, o.x, o.w);\n"
    "  });\n"
    "  fg.zoomed = null;\n"
    "  document.getElementById(\"fg_reset\").classList.add(\"fg_hide\");\n"
    "  fg.svg.removeAttribute(\"data-fg-zoom\");\n"
    "}\n"
    "function fg_search(term) {\n"
    "  var re = null, matched = 0, pct, m = document.getElementById(\"fg_matched\");\n"
    "  if (term) {\n"
    "    try { re = new RegExp(term); } catch (err) { m.textContent = \"Bad regex: \" + term; "
    "return; }\n"
    "  }\n"
    "  fg.frames.forEach(function (o) {\n"
    "    var pc = o.parent ? o.parent.cov : false;\n"
    "    o.hit = re ? re.test(o.name) : false;\n"
    "    o.cov = o.hit || pc;\n"
    "    if (o.hit && !pc) { matched += o.v; }\n"
    "    o.r.setAttribute(\"fill\", o.hit ? \"rgb(230,0,230)\" : o.fill);\n"
    "  });\n"
    "  fg.term = re ? term : null;\n"
    "  pct = fg.total > 0 ? 100 * matched / fg.total : 0;\n"
    "  if (re) {\n"
    "    m.textContent = \"Matched: \" + pct.toFixed(1) + \"%\";\n"
    "    fg.svg.setAttribute(\"data-fg-matched\", pct.toFixed(2));\n"
    "    document.getElementById(\"fg_clear\").classList.remove(\"fg_hide\");\n"
    "  } else {\n"
    "    m.textContent = \" \";\n"
    "    fg.svg.removeAttribute(\"data-fg-matched\");\n"
    "    document.getElementById(\"fg_clear\").classList.add(\"fg_hide\");\n"
    "  }\n"
    "}\n"
    "function fg_search_prompt() {\n"
    "  var t = window.prompt(\"Search for a function (regular expression):\", fg.term || \"\");\n"
    "  if (t !== null) { fg_search(t || null); }\n"
    "}\n"
    "function fg_click(e) {\n"
    "  var id = e.target.id, f;\n"
    "  if (id === \"fg_reset\") { fg_unzoom(); return; }\n"
    "  if (id === \"fg_search\") { fg_search_prompt(); return; }\n"
    "  if (id === \"fg_clear\") { fg_search(null); return; }\n"
    "  f = fg_frame(e.target);\n"
    "  if (f) { fg_zoom(f); }\n"
    "}\n"
    "function fg_over(e) {\n"
    "  var f = fg_frame(e.target);\n"
    "  if (f) { fg.details.textContent = f.g.getElementsByTagName(\"title\")[0].textContent; }\n"
    "}\n"
    "function fg_out(e) {\n"
    "  if (fg_frame(e.target)) { fg.details.textContent = \" \"; }\n"
    "}\n"
    "function fg_key(e) {\n"
    "  if ((e.ctrlKey || e.metaKey) && (e.key === \"f\" || e.key === \"F\")) {\n"
    "    e.preventDefault();\n"
    "    fg_search_prompt();\n"
    "  } else if (e.key === \"Escape\") {\n"
    "    fg_search(null);\n"
    "    fg_unzoom();\n"
    "  }\n"
    "}\n"
    "/* #zoom=<frame id>&search=<regex>: a view that can be linked (and tested). */\n"
    "function fg_from_hash() {\n"
    "  var h = window.location.hash ? window.location.hash.substring(1) : \"\";\n"
    "  h.split(\"&\").forEach(function (kv) {\n"
    "    var i = kv.indexOf(\"=\"), k, v;\n"
    "    if (i < 0) { return; }\n"
    "    k = kv.substring(0, i);\n"
    "    try { v = decodeURIComponent(kv.substring(i + 1)); } catch (err) { return; }\n"
    "    if (k === \"zoom\" && fg.byId[v]) { fg_zoom(fg.byId[v]); }\n"
    "    if (k === \"search\") { fg_search(v); }\n"
    "  });\n"
    "}\n";

static const char fg_style[] =
    "text { font-family: Verdana, sans-serif; font-size: 12px; fill: #000; }\n"
    "#fg_title { font-size: 17px; }\n"
    "#fg_subtitle { fill: #555; }\n"
    ".fg_button { cursor: pointer; fill: #337; }\n"
    ".fg_button:hover { text-decoration: underline; }\n"
    "#fg_frames g:hover rect { stroke: #000; stroke-width: 0.5; cursor: pointer; }\n"
    "#fg_frames text { pointer-events: none; }\n"
    ".fg_hide { display: none; }\n"
    ".fg_parent { opacity: 0.5; }\n";

/* ---- XML output -------------------------------------------------------------------- */

/* Decodes one character of s (not at its NUL). Invalid UTF-8 (overlong, surrogates,
 * truncated, out of range) takes one byte and reads as U+FFFD. */
static size_t next_cp(const unsigned char *s, uint32_t *cp)
{
	unsigned c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, *cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, *cp = c & 0x0f;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, *cp = c & 0x07;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else {
		*cp = 0xfffd;
		return 1;
	}
	for (size_t i = 1; i < len; i++) {
		unsigned char b = s[i];
		if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xbf)) {
			*cp = 0xfffd;
			return 1;
		}
		*cp = (*cp << 6) | (b & 0x3f);
	}
	return len;
}

static size_t count_cps(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;
	uint32_t cp;

	while (*p) {
		p += next_cp(p, &cp);
		n++;
	}
	return n;
}

/* Writes s as XML text or attribute content: escaped, valid UTF-8 (U+FFFD for what is
 * not), control characters as '?'. More than max_cp characters: max_cp - 2 and "..". */
static void xml_put(FILE *out, const char *s, size_t max_cp)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0, limit = SIZE_MAX;
	uint32_t cp;

	if (max_cp != SIZE_MAX && count_cps(s) > max_cp) {
		limit = max_cp >= 2 ? max_cp - 2 : 0;
	}
	while (*p && n < limit) {
		size_t len = next_cp(p, &cp);
		if (cp == 0xfffd || cp == 0xfffe || cp == 0xffff) {
			fputs("\xef\xbf\xbd", out);
		} else if (cp < 0x20 || cp == 0x7f) {
			putc('?', out);
		} else if (cp == '&') {
			fputs("&amp;", out);
		} else if (cp == '<') {
			fputs("&lt;", out);
		} else if (cp == '>') {
			fputs("&gt;", out);
		} else if (cp == '"') {
			fputs("&quot;", out);
		} else if (cp == '\'') {
			fputs("&apos;", out);
		} else {
			fwrite(p, 1, len, out);
		}
		p += len;
		n++;
	}
	if (limit != SIZE_MAX) {
		fputs("..", out);
	}
}

/* ---- layout ------------------------------------------------------------------------ */

static void frame_color(const char *name, int *r, int *g, int *b)
{
	uint32_t h = 2166136261u;

	if (name[0] == '[') {
		*r = *g = *b = 175;
		return;
	}
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h = (h ^ *p) * 16777619u;
	}
	h ^= h >> 15;
	*r = 205 + (int)(50 * ((h >> 16) & 0xff) / 255);
	*g = (int)(230 * (h & 0xff) / 255);
	*b = (int)(55 * ((h >> 8) & 0xff) / 255);
}

/* "123 samples", "1.50s", "4kB" or "12 widgets". */
static void value_text(char *buf, size_t len, int64_t v, const char *unit)
{
	if (strcmp(unit, "count") == 0 || !*unit) {
		snprintf(buf, len, "%" PRId64 " samples", v);
		return;
	}
	fmt_value(buf, len, v, unit);
	if (strspn(buf, "-0123456789") == strlen(buf)) {
		size_t n = strlen(buf);
		snprintf(buf + n, len - n, " %s", unit);
	}
}

struct fg_ctx {
	FILE *out;
	const struct prof *p;
	const struct calltree *t;
	const char *unit;
	int64_t total;
	double minval;
	int ybase; /* y of the root frame */
};

static int visible(const struct fg_ctx *c, uint32_t n)
{
	const struct ct_node *nd = &c->t->nodes[n];

	return nd->total > 0 && (double)nd->total >= c->minval && nd->depth <= FG_MAX_DEPTH;
}

static void put_frame(const struct fg_ctx *c, uint32_t n, double xval)
{
	const struct ct_node *nd = &c->t->nodes[n];
	const char *name = n == 0 ? "all" : c->p->names[nd->name];
	double scale = (double)(FG_WIDTH - 2 * FG_PAD) / (double)c->total;
	double x = FG_PAD + xval * scale, w = (double)nd->total * scale;
	int y = c->ybase - (int)nd->depth * FG_FRAME_H, r, g, b;
	char vt[96], pct[32];
	double chars = (w - 6) / FG_CHAR_W;

	frame_color(name, &r, &g, &b);
	if (n == 0) {
		r = g = b = 210;
	}
	fprintf(c->out, "<g id=\"f%" PRIu32 "\"", n);
	if (n != 0) {
		fprintf(c->out, " data-p=\"f%" PRIu32 "\"", nd->parent);
	}
	fputs(" data-name=\"", c->out);
	xml_put(c->out, name, SIZE_MAX);
	fprintf(c->out, "\" data-value=\"%" PRId64 "\" data-depth=\"%" PRIu32 "\"><title>",
	        nd->total, nd->depth);
	xml_put(c->out, name, SIZE_MAX);
	value_text(vt, sizeof vt, nd->total, c->unit);
	fmt_percent(pct, sizeof pct, nd->total, c->total);
	fputs(" (", c->out);
	xml_put(c->out, vt, SIZE_MAX);
	fprintf(c->out,
	        ", %s)</title><rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" "
	        "fill=\"rgb(%d,%d,%d)\" rx=\"2\"/><text x=\"%.2f\" y=\"%.1f\">",
	        pct, x, y, w, FG_FRAME_H - 1, r, g, b, x + 3, y + 11.5);
	if (chars >= 3) {
		xml_put(c->out, name, (size_t)chars);
	}
	fputs("</text></g>\n", c->out);
}

static void put_head(const struct fg_ctx *c, const char *path, const struct flamegraph_opts *o,
                     size_t vidx, int height, size_t nframes, size_t omitted)
{
	FILE *out = c->out;
	const char *slash = strrchr(path, '/');
	char vt[96];

	fprintf(out,
	        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
	        "height=\"%d\" viewBox=\"0 0 %d %d\" onload=\"fg_init(evt)\" "
	        "data-total=\"%" PRId64 "\" data-unit=\"",
	        FG_WIDTH, height, FG_WIDTH, height, c->total);
	xml_put(out, c->unit, SIZE_MAX);
	fprintf(out, "\" data-frames=\"%zu\" data-omitted=\"%zu\">\n", nframes, omitted);
	fprintf(out, "<defs><linearGradient id=\"fg_bg\" x1=\"0\" y1=\"0\" x2=\"0\" y2=\"1\">"
	             "<stop stop-color=\"#eeeeee\" offset=\"5%%\"/>"
	             "<stop stop-color=\"#eeeeb0\" offset=\"95%%\"/></linearGradient></defs>\n");
	fprintf(out, "<style type=\"text/css\"><![CDATA[\n%s]]></style>\n", fg_style);
	fprintf(out, "<script type=\"text/ecmascript\"><![CDATA[\n%s]]></script>\n", fg_script);
	fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"url(#fg_bg)\"/>\n",
	        FG_WIDTH, height);
	fprintf(out, "<text id=\"fg_title\" x=\"%d\" y=\"24\" text-anchor=\"middle\">",
	        FG_WIDTH / 2);
	xml_put(out, o->title ? o->title : "Flame Graph", SIZE_MAX);
	fprintf(out, "</text>\n<text id=\"fg_subtitle\" x=\"%d\" y=\"44\" text-anchor=\"middle\">",
	        FG_WIDTH / 2);
	xml_put(out, slash && slash[1] ? slash + 1 : path, SIZE_MAX);
	fputs(": ", out);
	xml_put(out, c->p->str[c->p->types[vidx].type], SIZE_MAX);
	value_text(vt, sizeof vt, c->total, c->unit);
	fputs(", total ", out);
	xml_put(out, vt, SIZE_MAX);
	if (omitted) {
		fprintf(out, "; %zu frames under %.1f%% not drawn", omitted, FG_MIN_FRACTION * 100);
	}
	if (c->total <= 0) {
		fputs("; no samples", out);
	}
	fprintf(out,
	        "</text>\n"
	        "<text id=\"fg_reset\" class=\"fg_button fg_hide\" x=\"%d\" y=\"24\">Reset "
	        "Zoom</text>\n"
	        "<text id=\"fg_clear\" class=\"fg_button fg_hide\" x=\"%d\" y=\"24\">Clear</text>\n"
	        "<text id=\"fg_search\" class=\"fg_button\" x=\"%d\" y=\"24\">Search</text>\n"
	        "<text id=\"fg_details\" x=\"%d\" y=\"%d\"> </text>\n"
	        "<text id=\"fg_matched\" x=\"%d\" y=\"%d\"> </text>\n",
	        FG_PAD, FG_WIDTH - 170, FG_WIDTH - 110, FG_PAD, height - 10, FG_WIDTH - 170,
	        height - 10);
}

int flamegraph_write(FILE *out, const struct prof *p, const char *path,
                     const struct flamegraph_opts *o)
{
	struct calltree t;
	struct fg_ctx c;
	double *nextx = NULL;
	int rc = -1;
	size_t vidx, nframes = 0, omitted = 0;
	uint32_t depth = 0;

	if (calltree_for(&t, p, path, o->value, &vidx) < 0) {
		goto out;
	}
	c.out = out;
	c.p = p;
	c.t = &t;
	c.unit = p->str[p->types[vidx].unit];
	c.total = t.nodes[0].total;
	c.minval = (double)c.total * FG_MIN_FRACTION;

	/* Pass 1: which frames are drawn, and how deep. */
	if (c.total > 0) {
		for (uint32_t n = 0; n != CT_NONE; n = calltree_next(&t, n, visible(&c, n))) {
			if (visible(&c, n)) {
				nframes++;
				depth = t.nodes[n].depth > depth ? t.nodes[n].depth : depth;
			} else {
				omitted++;
			}
		}
	}
	int height = FG_TOP + (int)(depth + 1) * FG_FRAME_H + FG_BOTTOM;
	c.ybase = height - FG_BOTTOM - FG_FRAME_H;
	put_head(&c, path, o, vidx, height, nframes, omitted);

	/* Pass 2: draw them. nextx[d] is where the next child at depth d starts. */
	fputs("<g id=\"fg_frames\">\n", out);
	nextx = calloc((size_t)t.max_depth + 2, sizeof *nextx);
	if (!nextx) {
		tool_error("%s: out of memory", path);
		goto out;
	}
	if (c.total > 0) {
		for (uint32_t n = 0; n != CT_NONE; n = calltree_next(&t, n, visible(&c, n))) {
			const struct ct_node *nd = &t.nodes[n];
			double x = nextx[nd->depth];
			if (nd->total > 0) {
				nextx[nd->depth] += (double)nd->total;
			}
			if (visible(&c, n)) {
				nextx[nd->depth + 1] = x;
				put_frame(&c, n, x);
			}
		}
	}
	fputs("</g>\n</svg>\n", out);
	rc = 0;
out:
	free(nextx);
	calltree_free(&t);
	return rc;
}

int flamegraph_writer(FILE *out, const struct prof *p, const char *path, const void *opts)
{
	return flamegraph_write(out, p, path, opts);
}

static const char flamegraph_usage[] =
    "usage: cpuprof flamegraph [-o OUT.svg] [--value=samples|ns] [--sample-index=K]\n"
    "                          [--title=TEXT] PROFILE\n"
    "  Writes an interactive SVG flame graph (to stdout without -o): hover for details,\n"
    "  click to zoom, Ctrl-F or \"Search\" to highlight functions matching a regex.\n"
    "  --value, --sample-index  as for cpuprof folded (default: the sample count)\n";

/* The options of the command line: the writer's, and where the SVG goes. */
struct fg_cmd_opts {
	struct flamegraph_opts fo;
	const char *outpath;
};

static int fg_opt(int argc, char **argv, int *i, void *opts)
{
	struct fg_cmd_opts *o = opts;
	int r;

	if ((r = opt_value(argc, argv, i, "-o", &o->outpath)) != 0 ||
	    (r = opt_value(argc, argv, i, "--output", &o->outpath)) != 0 ||
	    (r = opt_value(argc, argv, i, "--value", &o->fo.value)) != 0 ||
	    (r = opt_value(argc, argv, i, "--sample-index", &o->fo.value)) != 0 ||
	    (r = opt_value(argc, argv, i, "--title", &o->fo.title)) != 0) {
		return r;
	}
	return 0;
}

int cmd_flamegraph(int argc, char **argv)
{
	struct fg_cmd_opts o = {{NULL, NULL}, NULL};
	const struct tool_cmd cmd = {"flamegraph", flamegraph_usage,  "[-o OUT.svg] PROFILE",
	                             fg_opt,       flamegraph_writer, &o.outpath};

	return tool_run(argc, argv, &cmd, &o, &o.fo);
}
