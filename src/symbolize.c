/*
 * symbolize: addresses to (function, file, line) frames with inline expansion, through
 * libdwfl on this process (see symbolize.h). The profile builder makes one symbolizer per
 * profile, so the module list matches the mappings it writes, and asks once per distinct
 * address; results are cached here by address.
 */
#define _GNU_SOURCE
#include "symbolize.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpuprof.h"

/* Inline chains deeper than this lose their outer inlined frames; the innermost frames
 * and the physical function (with the outermost call site) stay. */
#define MAX_INLINE_DEPTH 64

/* A cached result: frames[first .. first+n) of the symbolizer's frame array. */
struct cacheent {
	uint64_t addr;
	uint32_t first;
	uint16_t n;
	uint8_t flags;
	uint8_t used;
};

/* An address range of something kept in an array (a CU, a function scope). */
struct arange {
	Dwarf_Addr lo, hi; /* DWARF (unbiased) addresses, [lo, hi) */
	uint32_t idx;      /* what holds the range: an index into the owner's array */
};

/*
 * A module's compile units by address range, built from the CUs themselves for modules
 * whose .debug_aranges does not cover every CU: clang emits no aranges unless asked
 * (-gdwarf-aranges), and libdwfl finds CUs only through them, so a clang-built object
 * linked with gcc-built ones, or any clang-only binary, would otherwise get no DWARF.
 */
struct cuindex {
	Dwfl_Module *mod;
	struct arange *r; /* sorted by lo; idx indexes cus */
	size_t n, cap;
	Dwarf_Die *cus;
	size_t ncus, capcus;
};

struct cpuprof__symbolizer {
	Dwfl *dwfl;
	Dwfl_Callbacks cb; /* libdwfl keeps a pointer to it: it lives as long as dwfl */
	char *debuginfo_path;

	struct cacheent *slots; /* open addressing on addr, power-of-two size */
	size_t nslots;
	size_t nused;

	struct cpuprof__symframe *frames; /* every cached result's frames, appended */
	size_t nframes;
	size_t capframes;

	struct cuindex *cuix; /* one per module that needed it */
	size_t ncuix;

	struct cuscopes **cus; /* scope trees of the CUs used so far */
	size_t ncus, capcus;
	uint32_t *cuslots; /* index + 1 into cus, open addressing on the CU key */
	size_t ncuslots;
};

static void cuscopes_free(struct cuscopes *cs);

/*
 * Where to look for separate debug info. dwfl_standard_find_debuginfo looks next to the
 * file, in /usr/lib/debug (by debuglink and by build ID), and then asks debuginfod
 * servers over the network when DEBUGINFOD_URLS is set (Debian sets it in login shells).
 * A profiler inside someone's process must not download anything, so with DEBUGINFOD_URLS
 * set only the local build-ID path is tried.
 */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, GElf_Addr base,
                          const char *file_name, const char *debuglink_file,
                          GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	const char *urls = getenv("DEBUGINFOD_URLS");
	if (!urls || !*urls) {
		return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name,
		                                    debuglink_file, debuglink_crc,
		                                    debuginfo_file_name);
	}
	const unsigned char *bits;
	GElf_Addr vaddr;
	int n = dwfl_module_build_id(mod, &bits, &vaddr);
	if (n < 2 || n > 128) {
		return -1;
	}
	char path[64 + 2 * 128];
	int len = snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%02x/", bits[0]);
	for (int i = 1; i < n; i++) {
		len += snprintf(path + len, sizeof(path) - (size_t)len, "%02x", bits[i]);
	}
	snprintf(path + len, sizeof(path) - (size_t)len, ".debug");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		*debuginfo_file_name = strdup(path);
	}
	return fd;
}

struct cpuprof__symbolizer *cpuprof__symbolizer_new(void)
{
	struct cpuprof__symbolizer *s = calloc(1, sizeof(*s));
	if (!s) {
		return NULL;
	}
	s->cb.find_elf = dwfl_linux_proc_find_elf;
	s->cb.find_debuginfo = find_debuginfo;
	s->cb.debuginfo_path = &s->debuginfo_path;
	s->dwfl = dwfl_begin(&s->cb);
	if (!s->dwfl) {
		free(s);
		return NULL;
	}
	/* Modules are only reported here (names and address ranges); each file is opened
	 * the first time an address in it is looked up. A failure for some module leaves
	 * the others usable, so the result is not checked beyond that. */
	dwfl_report_begin(s->dwfl);
	(void)dwfl_linux_proc_report(s->dwfl, getpid());
	if (dwfl_report_end(s->dwfl, NULL, NULL) != 0) {
		dwfl_end(s->dwfl);
		free(s);
		return NULL;
	}
	return s;
}

void cpuprof__symbolizer_free(struct cpuprof__symbolizer *s)
{
	if (!s) {
		return;
	}
	dwfl_end(s->dwfl);
	for (size_t i = 0; i < s->ncuix; i++) {
		free(s->cuix[i].r);
		free(s->cuix[i].cus);
	}
	free(s->cuix);
	for (size_t i = 0; i < s->ncus; i++) {
		cuscopes_free(s->cus[i]);
		free(s->cus[i]);
	}
	free(s->cus);
	free(s->cuslots);
	free(s->slots);
	free(s->frames);
	free(s);
}

static inline size_t addr_hash(uint64_t a)
{
	a ^= a >> 33;
	a *= 0xff51afd7ed558ccdULL;
	a ^= a >> 33;
	return (size_t)a;
}

static int grow_cache(struct cpuprof__symbolizer *s)
{
	size_t n = s->nslots ? s->nslots * 2 : 1024;
	struct cacheent *ns = calloc(n, sizeof(*ns));
	if (!ns) {
		return CPUPROF_ENOMEM;
	}
	for (size_t i = 0; i < s->nslots; i++) {
		if (!s->slots[i].used) {
			continue;
		}
		size_t j = addr_hash(s->slots[i].addr) & (n - 1);
		while (ns[j].used) {
			j = (j + 1) & (n - 1);
		}
		ns[j] = s->slots[i];
	}
	free(s->slots);
	s->slots = ns;
	s->nslots = n;
	return 0;
}

static struct cpuprof__symframe *push_frame(struct cpuprof__symbolizer *s)
{
	if (s->nframes == s->capframes) {
		size_t n = s->capframes ? s->capframes * 2 : 1024;
		if (n > UINT32_MAX) {
			return NULL;
		}
		struct cpuprof__symframe *nf = realloc(s->frames, n * sizeof(*nf));
		if (!nf) {
			return NULL;
		}
		s->frames = nf;
		s->capframes = n;
	}
	struct cpuprof__symframe *f = &s->frames[s->nframes++];
	memset(f, 0, sizeof(*f));
	return f;
}

/* The name a profile should show for a function DIE: the linkage name (C++ and Rust
 * mangled names, which pprof demangles), else DW_AT_name; both looked up through
 * DW_AT_abstract_origin / DW_AT_specification, as inlined and out-of-line instances keep
 * their names on the abstract DIE. */
static const char *die_name(Dwarf_Die *die)
{
	Dwarf_Attribute a;
	const char *n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &a));
	if (!n) {
		n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a));
	}
	if (!n) {
		n = dwarf_diename(die);
	}
	return n;
}

static int64_t die_decl_line(Dwarf_Die *die)
{
	int line = 0;
	if (dwarf_decl_line(die, &line) != 0 || line < 0) {
		return 0;
	}
	return line;
}

/* The file and line of the call that an inlined_subroutine DIE stands for. */
static void call_site(Dwarf_Die *inl, const char **file, int64_t *line)
{
	Dwarf_Attribute a;
	Dwarf_Word v;
	Dwarf_Die cu;
	Dwarf_Files *files;
	size_t nfiles;
	*file = NULL;
	*line = 0;
	if (dwarf_formudata(dwarf_attr(inl, DW_AT_call_line, &a), &v) == 0 && v <= INT32_MAX) {
		*line = (int64_t)v;
	}
	if (dwarf_formudata(dwarf_attr(inl, DW_AT_call_file, &a), &v) == 0 &&
	    dwarf_diecu(inl, &cu, NULL, NULL) != NULL &&
	    dwarf_getsrcfiles(&cu, &files, &nfiles) == 0 && v < nfiles) {
		*file = dwarf_filesrc(files, v, NULL, NULL);
	}
}

static int cmp_arange(const void *a, const void *b)
{
	const struct arange *x = a, *y = b;
	return (x->lo > y->lo) - (x->lo < y->lo);
}

/* The entry of r[0..n) (sorted by lo) holding a, or -1. Ranges of distinct CUs, and of
 * distinct top-level functions, do not overlap in practice; a few earlier entries are
 * looked at in case they do. */
static long find_range(const struct arange *r, size_t n, Dwarf_Addr a)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r[mid].lo <= a) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	for (size_t k = lo; k > 0 && lo - k < 8; k--) {
		if (a >= r[k - 1].lo && a < r[k - 1].hi) {
			return (long)(k - 1);
		}
	}
	return -1;
}

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap) {
		return 0;
	}
	size_t nc = *cap ? *cap * 2 : 64;
	void *np = realloc(*p, nc * size);
	if (!np) {
		return -1;
	}
	*p = np;
	*cap = nc;
	return 0;
}

/* Collects the address ranges of every compile unit of dw. */
static int build_cuindex(struct cuindex *ix, Dwarf *dw)
{
	Dwarf_CU *cu = NULL, *next;
	Dwarf_Half version;
	uint8_t unit_type;
	Dwarf_Die cudie, subdie;
	while (dwarf_get_units(dw, cu, &next, &version, &unit_type, &cudie, &subdie) == 0) {
		cu = next;
		if (unit_type != DW_UT_compile) {
			continue;
		}
		if (grow((void **)&ix->cus, &ix->capcus, ix->ncus, sizeof(*ix->cus))) {
			return -1;
		}
		uint32_t idx = (uint32_t)ix->ncus;
		ix->cus[ix->ncus++] = cudie;
		Dwarf_Addr base, lo, hi;
		ptrdiff_t off = 0;
		while ((off = dwarf_ranges(&cudie, off, &base, &lo, &hi)) > 0) {
			if (lo >= hi) {
				continue;
			}
			if (grow((void **)&ix->r, &ix->cap, ix->n, sizeof(*ix->r))) {
				return -1;
			}
			ix->r[ix->n++] = (struct arange){lo, hi, idx};
		}
	}
	if (ix->n) {
		qsort(ix->r, ix->n, sizeof(*ix->r), cmp_arange);
	}
	return 0;
}

/* The CU holding addr found through the CUs' own ranges (see struct cuindex); copies it to
 * *buf. Returns buf, or NULL when no CU holds it. *err is set when out of memory. */
static Dwarf_Die *fallback_cu(struct cpuprof__symbolizer *s, Dwfl_Module *mod, uint64_t addr,
                              Dwarf_Addr *bias, Dwarf_Die *buf, int *err)
{
	Dwarf *dw = dwfl_module_getdwarf(mod, bias);
	if (!dw) {
		return NULL;
	}
	struct cuindex *ix = NULL;
	for (size_t i = 0; i < s->ncuix && !ix; i++) {
		if (s->cuix[i].mod == mod) {
			ix = &s->cuix[i];
		}
	}
	if (!ix) {
		struct cuindex *n = realloc(s->cuix, (s->ncuix + 1) * sizeof(*n));
		if (!n) {
			*err = 1;
			return NULL;
		}
		s->cuix = n;
		ix = &s->cuix[s->ncuix++];
		memset(ix, 0, sizeof(*ix));
		ix->mod = mod;
		if (build_cuindex(ix, dw) != 0) {
			*err = 1;
			return NULL;
		}
	}
	long k = find_range(ix->r, ix->n, addr - *bias);
	if (k < 0) {
		return NULL;
	}
	*buf = ix->cus[ix->r[k].idx];
	return buf;
}

/*
 * A compile unit's code scopes as a tree, built once per CU on first use: every
 * DW_TAG_subprogram and DW_TAG_inlined_subroutine that has code, with its address ranges
 * and its enclosing function scope (lexical blocks and the like are looked through).
 * dwarf_getscopes walks the whole CU DIE tree for every address, which made a profile of
 * 2000 distinct addresses cost about 0.3 s; with the tree an address costs a binary search
 * and a descent through a few nested inline scopes.
 */
struct snode {
	Dwarf_Die die;
	int32_t parent; /* enclosing function scope, or -1 */
	int32_t first_child;
	int32_t next_sibling;
	uint32_t rfirst; /* ranges[rfirst .. rfirst + rcount) */
	uint32_t rcount;
	int tag;
};

struct srange {
	Dwarf_Addr lo, hi;
};

struct cuscopes {
	const void *key; /* the CU DIE's address in the mapped .debug_info: unique per CU */
	struct snode *nodes;
	size_t nnodes, capnodes;
	struct srange *ranges;
	size_t nranges, capranges;
	struct arange *top; /* ranges of outermost scopes, sorted by lo; idx is the node */
	size_t ntop, captop;
};

#define MAX_DIE_DEPTH 256

static int walk_scopes(struct cuscopes *cs, Dwarf_Die *parent_die, int32_t cur, int depth)
{
	Dwarf_Die child;
	if (depth > MAX_DIE_DEPTH || dwarf_child(parent_die, &child) != 0) {
		return 0;
	}
	do {
		int tag = dwarf_tag(&child);
		switch (tag) {
		case DW_TAG_subprogram:
		case DW_TAG_inlined_subroutine: {
			size_t rfirst = cs->nranges;
			Dwarf_Addr base, lo, hi;
			ptrdiff_t off = 0;
			while ((off = dwarf_ranges(&child, off, &base, &lo, &hi)) > 0) {
				if (lo >= hi) {
					continue;
				}
				if (grow((void **)&cs->ranges, &cs->capranges, cs->nranges,
				         sizeof(*cs->ranges))) {
					return -1;
				}
				cs->ranges[cs->nranges++] = (struct srange){lo, hi};
			}
			if (cs->nranges == rfirst) {
				/* No code: a declaration or an abstract instance. Nothing
				 * below it has code either. */
				break;
			}
			if (grow((void **)&cs->nodes, &cs->capnodes, cs->nnodes,
			         sizeof(*cs->nodes))) {
				return -1;
			}
			int32_t id = (int32_t)cs->nnodes++;
			struct snode *n = &cs->nodes[id];
			n->die = child;
			n->parent = cur;
			n->first_child = -1;
			n->next_sibling = cur >= 0 ? cs->nodes[cur].first_child : -1;
			n->rfirst = (uint32_t)rfirst;
			n->rcount = (uint32_t)(cs->nranges - rfirst);
			n->tag = tag;
			if (cur >= 0) {
				cs->nodes[cur].first_child = id;
			} else {
				for (size_t r = rfirst; r < cs->nranges; r++) {
					if (grow((void **)&cs->top, &cs->captop, cs->ntop,
					         sizeof(*cs->top))) {
						return -1;
					}
					cs->top[cs->ntop++] = (struct arange){
					    cs->ranges[r].lo, cs->ranges[r].hi, (uint32_t)id};
				}
			}
			if (walk_scopes(cs, &child, id, depth + 1) != 0) {
				return -1;
			}
			break;
		}
		case DW_TAG_lexical_block:
		case DW_TAG_try_block:
		case DW_TAG_catch_block:
		case DW_TAG_namespace:
		case DW_TAG_module:
		case DW_TAG_class_type:
		case DW_TAG_structure_type:
		case DW_TAG_union_type:
			/* May hold function scopes (blocks inside functions; member
			 * functions defined in a class). */
			if (walk_scopes(cs, &child, cur, depth + 1) != 0) {
				return -1;
			}
			break;
		default:
			break;
		}
	} while (dwarf_siblingof(&child, &child) == 0);
	return 0;
}

static void cuscopes_free(struct cuscopes *cs)
{
	free(cs->nodes);
	free(cs->ranges);
	free(cs->top);
}

/* The scope tree of cudie, built on first use. NULL when out of memory. */
static struct cuscopes *cu_scopes(struct cpuprof__symbolizer *s, Dwarf_Die *cudie)
{
	const void *key = cudie->addr;
	if (s->ncus) {
		size_t mask = s->ncuslots - 1;
		for (size_t j = addr_hash((uint64_t)(uintptr_t)key) & mask; s->cuslots[j];
		     j = (j + 1) & mask) {
			struct cuscopes *cs = s->cus[s->cuslots[j] - 1];
			if (cs->key == key) {
				return cs;
			}
		}
	}
	if ((s->ncus + 1) * 2 > s->ncuslots) {
		size_t n = s->ncuslots ? s->ncuslots * 2 : 64;
		uint32_t *sl = calloc(n, sizeof(*sl));
		if (!sl) {
			return NULL;
		}
		for (size_t i = 0; i < s->ncus; i++) {
			size_t j = addr_hash((uint64_t)(uintptr_t)s->cus[i]->key) & (n - 1);
			while (sl[j]) {
				j = (j + 1) & (n - 1);
			}
			sl[j] = (uint32_t)(i + 1);
		}
		free(s->cuslots);
		s->cuslots = sl;
		s->ncuslots = n;
	}
	if (grow((void **)&s->cus, &s->capcus, s->ncus, sizeof(*s->cus))) {
		return NULL;
	}
	struct cuscopes *cs = calloc(1, sizeof(*cs));
	if (!cs) {
		return NULL;
	}
	cs->key = key;
	Dwarf_Die cu = *cudie;
	if (walk_scopes(cs, &cu, -1, 0) != 0) {
		cuscopes_free(cs);
		free(cs);
		return NULL;
	}
	if (cs->ntop) {
		qsort(cs->top, cs->ntop, sizeof(*cs->top), cmp_arange);
	}
	s->cus[s->ncus++] = cs;
	size_t mask = s->ncuslots - 1;
	size_t j = addr_hash((uint64_t)(uintptr_t)key) & mask;
	while (s->cuslots[j]) {
		j = (j + 1) & mask;
	}
	s->cuslots[j] = (uint32_t)s->ncus;
	return cs;
}

static int node_holds(const struct cuscopes *cs, int32_t n, Dwarf_Addr a)
{
	const struct snode *nd = &cs->nodes[n];
	for (uint32_t r = nd->rfirst; r < nd->rfirst + nd->rcount; r++) {
		if (a >= cs->ranges[r].lo && a < cs->ranges[r].hi) {
			return 1;
		}
	}
	return 0;
}

/* The innermost function scope holding the (unbiased) address a, or -1. */
static int32_t innermost(const struct cuscopes *cs, Dwarf_Addr a)
{
	long t = find_range(cs->top, cs->ntop, a);
	if (t < 0) {
		return -1;
	}
	int32_t n = (int32_t)cs->top[t].idx;
	for (int depth = 0; depth < MAX_DIE_DEPTH; depth++) {
		int32_t c = cs->nodes[n].first_child;
		while (c >= 0 && !node_holds(cs, c, a)) {
			c = cs->nodes[c].next_sibling;
		}
		if (c < 0) {
			break;
		}
		n = c;
	}
	return n;
}

/*
 * The DWARF frames at addr, innermost first, as eu-addr2line -i finds them: the innermost
 * inlined_subroutine or subprogram holding the address, then the scopes that physically
 * enclose it up to the subprogram. Frame 0 takes the file:line of the address from the
 * line table; every later frame takes the call site (DW_AT_call_file/DW_AT_call_line) of
 * the inlined scope just inside it. Returns the number of frames pushed, or -1 when out
 * of memory.
 */
static int dwarf_frames(struct cpuprof__symbolizer *s, Dwarf_Die *cudie, Dwarf_Addr bias,
                        uint64_t addr)
{
	struct cuscopes *cs = cu_scopes(s, cudie);
	if (!cs) {
		return -1;
	}
	int32_t k = innermost(cs, addr - bias);
	int pushed = 0;
	Dwarf_Die *callee = NULL; /* the inlined_subroutine just inside this frame, if any */
	for (; k >= 0; k = cs->nodes[k].parent) {
		struct snode *nd = &cs->nodes[k];
		if (nd->tag == DW_TAG_inlined_subroutine && pushed >= MAX_INLINE_DEPTH - 1) {
			callee = &nd->die;
			continue;
		}
		struct cpuprof__symframe *f = push_frame(s);
		if (!f) {
			return -1;
		}
		f->function = die_name(&nd->die);
		f->start_line = die_decl_line(&nd->die);
		if (!callee) {
			Dwarf_Line *l = dwarf_getsrc_die(cudie, addr - bias);
			int lineno = 0;
			if (l) {
				f->file = dwarf_linesrc(l, NULL, NULL);
				if (dwarf_lineno(l, &lineno) == 0 && lineno > 0) {
					f->line = lineno;
				}
			}
		} else {
			call_site(callee, &f->file, &f->line);
		}
		pushed++;
		if (nd->tag == DW_TAG_subprogram) {
			break;
		}
		callee = &nd->die;
	}
	return pushed;
}

static unsigned frames_flags(const struct cpuprof__symframe *f, size_t n)
{
	if (n == 0) {
		return 0;
	}
	unsigned fl = CPUPROF__SYM_FUNCTION | CPUPROF__SYM_FILE | CPUPROF__SYM_LINE;
	for (size_t i = 0; i < n; i++) {
		if (!f[i].function || !f[i].function[0]) {
			fl &= ~CPUPROF__SYM_FUNCTION;
		}
		if (!f[i].file || !f[i].file[0]) {
			fl &= ~CPUPROF__SYM_FILE;
		}
		if (f[i].line <= 0) {
			fl &= ~CPUPROF__SYM_LINE;
		}
	}
	return fl;
}

/* Symbolizes addr into new frames at the end of s->frames; returns the flags or -1. */
static int lookup(struct cpuprof__symbolizer *s, uint64_t addr, size_t *nout)
{
	size_t first = s->nframes;
	unsigned inl = 0;
	*nout = 0;
	Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, addr);
	if (!mod) {
		return 0;
	}
	Dwarf_Addr bias = 0;
	Dwarf_Die cubuf;
	Dwarf_Die *cudie = dwfl_module_addrdie(mod, addr, &bias);
	if (!cudie) {
		int err = 0;
		cudie = fallback_cu(s, mod, addr, &bias, &cubuf, &err);
		if (err) {
			return -1;
		}
	}
	if (cudie) {
		int n = dwarf_frames(s, cudie, bias, addr);
		if (n < 0) {
			return -1;
		}
		if (n > 0) {
			inl = CPUPROF__SYM_INLINE;
		}
	}
	const char *symname = NULL;
	if (s->nframes == first || !s->frames[s->nframes - 1].function) {
		/* No DWARF function here: the ELF symbol table names the physical function. */
		GElf_Off off;
		GElf_Sym sym;
		symname = dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);
	}
	if (s->nframes == first) {
		const char *file = NULL;
		int lineno = 0;
		if (cudie) {
			Dwarf_Line *l = dwarf_getsrc_die(cudie, addr - bias);
			if (l) {
				file = dwarf_linesrc(l, NULL, NULL);
				if (dwarf_lineno(l, &lineno) != 0) {
					lineno = 0;
				}
			}
		}
		if (symname || file) {
			struct cpuprof__symframe *f = push_frame(s);
			if (!f) {
				return -1;
			}
			f->function = symname;
			f->file = file;
			f->line = lineno > 0 ? lineno : 0;
		}
	} else if (symname) {
		s->frames[s->nframes - 1].function = symname;
	}
	*nout = s->nframes - first;
	if (*nout == 0) {
		return 0; /* s->frames may still be NULL: no pointer arithmetic on it */
	}
	return (int)(frames_flags(s->frames + first, *nout) | inl);
}

int cpuprof__symbolize(struct cpuprof__symbolizer *s, uint64_t addr, struct cpuprof__symresult *out)
{
	if ((s->nused + 1) * 2 > s->nslots && grow_cache(s) != 0) {
		return CPUPROF_ENOMEM;
	}
	size_t mask = s->nslots - 1;
	size_t j = addr_hash(addr) & mask;
	while (s->slots[j].used) {
		if (s->slots[j].addr == addr) {
			const struct cacheent *c = &s->slots[j];
			out->frames = s->frames + c->first;
			out->nframes = c->n;
			out->flags = c->flags;
			return 0;
		}
		j = (j + 1) & mask;
	}
	size_t first = s->nframes, n;
	int flags = lookup(s, addr, &n);
	if (flags < 0) {
		s->nframes = first;
		return CPUPROF_ENOMEM;
	}
	s->slots[j] = (struct cacheent){
	    .addr = addr,
	    .first = (uint32_t)first,
	    .n = (uint16_t)n,
	    .flags = (uint8_t)flags,
	    .used = 1,
	};
	s->nused++;
	out->frames = s->frames + first;
	out->nframes = (uint32_t)n;
	out->flags = (unsigned)flags;
	return 0;
}
