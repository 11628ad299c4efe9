/*
 * symbolize: in-process symbolization of code addresses with elfutils libdwfl/libdw:
 * function, source file and line, and the chain of inlined frames, from DWARF where the
 * module has it and from the ELF symbol table where it does not. Used by the profile
 * builder (pprof.c) on the reader or controlling thread. Not async-signal-safe (libdw
 * allocates and opens files). Not thread-safe: one symbolizer belongs to one caller, but
 * separate symbolizers may be used on separate threads.
 */
#ifndef CPUPROF_SYMBOLIZE_H
#define CPUPROF_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>

/* One source frame at an address. Strings belong to the symbolizer and stay valid until
 * cpuprof__symbolizer_free. */
struct cpuprof__symframe {
	/* The linkage (mangled) name if DWARF has one, else the name; NULL if unknown. */
	const char *function;
	const char *file;   /* source file, NULL if unknown */
	int64_t line;       /* source line, 0 if unknown */
	int64_t start_line; /* the function's DW_AT_decl_line, 0 if unknown */
};

/* What was found for an address; a flag is set only if it holds for every frame. */
#define CPUPROF__SYM_FUNCTION 0x1u /* every frame has a function name */
#define CPUPROF__SYM_FILE 0x2u     /* every frame has a file name */
#define CPUPROF__SYM_LINE 0x4u     /* every frame has a line number */
#define CPUPROF__SYM_INLINE 0x8u   /* DWARF scopes were read: inlined frames are expanded */

/*
 * The frames at one address, innermost first: frames[0] is the innermost inlined callee
 * (with the file:line of the address itself), each later frame is the function that
 * inlined the previous one (with the file:line of that call site), and the last frame is
 * the physical function. nframes == 0 means nothing is known (flags == 0 then).
 */
struct cpuprof__symresult {
	const struct cpuprof__symframe *frames;
	uint32_t nframes;
	unsigned flags;
};

struct cpuprof__symbolizer;

/* Reports the modules of the current process (from /proc/self/maps). Returns NULL when out
 * of memory or when libdwfl cannot read the process at all. */
struct cpuprof__symbolizer *cpuprof__symbolizer_new(void);
void cpuprof__symbolizer_free(struct cpuprof__symbolizer *s);

/*
 * Symbolizes the code address `addr` exactly as given (callers pass a return address
 * minus one). Results are cached per address. out->frames stays valid until the next call
 * on the same symbolizer. Returns 0 (also when nothing was found: out->nframes == 0) or
 * CPUPROF_ENOMEM.
 */
int cpuprof__symbolize(struct cpuprof__symbolizer *s, uint64_t addr,
                       struct cpuprof__symresult *out);

#endif
