/* unwind: under construction. */
typedef int cpuprof__unwind_placeholder;
