/* logset: under construction. */
typedef int cpuprof__logset_placeholder;
